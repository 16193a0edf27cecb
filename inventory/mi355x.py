"""8xMI355X nodes: GLM-5.2 FP8 on vLLM with AITER (seed 000's ROCm recipe).

    glmstack plan inventory/mi355x.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/mi355x.py deploys/glm52.py


Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

mi355x = group(
    [
        ("mi355x-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="mi355x",
    model="glm-5.2-fp8",
    engine="vllm",
)
