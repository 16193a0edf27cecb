"""Dual GH200 machines: GLM-5.2 FP8 on vLLM with TP2 and expert offload to Grace memory (seed 003).

    glmstack plan inventory/gh200.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/gh200.py deploys/glm52.py

Seed 003's point for a general launcher: 270 GiB offloaded per rank, 4096-token context. The AWQ
INT4 quant is faster (model="glm-5.2-awq-int4"), once locked (`glmstack lock inventory/gh200.py`).

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

gh200 = group(
    [
        ("gh200-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="gh200",
    model="glm-5.2-fp8",
    engine="vllm",
)
