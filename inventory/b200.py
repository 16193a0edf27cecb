"""8xB200 nodes: GLM-5.2 FP8 on vLLM for the full 1M context (seed 000).

    glmstack plan inventory/b200.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/b200.py deploys/glm52.py

Also in the catalog for B200: seed 001's benchmark command (recipe_variant="cu129-benchmark")
and SGLang (engine="sglang").

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

b200 = group(
    [
        ("b200-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="b200",
    model="glm-5.2-fp8",
    engine="vllm",
)
