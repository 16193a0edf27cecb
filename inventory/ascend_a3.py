"""One Atlas 800 A3 (16 NPUs): GLM-5.2 W8A8 on vLLM-Ascend (seed 002).

    glmstack plan inventory/ascend_a3.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/ascend_a3.py deploys/glm52.py

The W8A8 weights are on ModelScope (Eco-Tech/GLM-5.2-w8a8): `glmstack lock inventory/ascend_a3.py`
pins their commit and sums (the deploy refuses until then), or set model_revision. Huawei's driver, firmware and CANN
installers come from your package set (they need a login to download): set ascend_packages to
its directory on this machine (with its manifest.yaml) or to an http(s) mirror plus
ascend_manifest; docs/ascend.md says how to write the manifest. Without it, `glmstack
plan` works and the deploy stops in preflight.

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

ascend_a3 = group(
    [
        ("a3-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="ascend-a3",
    model="glm-5.2-w8a8",
    engine="vllm-ascend",
    # model_revision="<40-character commit sha of Eco-Tech/GLM-5.2-w8a8>",
    # ascend_packages="/srv/ascend-packages",  # your package set, with its manifest.yaml
)
