"""8xH20-141GB nodes: GLM-5.2 FP8 on vLLM, the 8xH20 recipe of seed 000.

    glmstack plan inventory/h20.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/h20.py deploys/glm52.py


Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

h20 = group(
    [
        ("h20-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="h20",
    model="glm-5.2-fp8",
    engine="vllm",
)
