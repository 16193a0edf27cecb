"""Two 8xH100 80 GB nodes: GLM-5.2 FP8 on vLLM, TP8 within each node and PP2 across them.

    glmstack plan inventory/h100.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/h100.py deploys/glm52.py

FP8 needs about 893 GB (seed 000); one HGX H100 has 640 GB, so the two hosts share one
`deployment` and the first is rank 0. [inferred] layout: see the recipe's note in the catalog.

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

h100 = group(
    [
        ("h100-1.lab.example", {"ssh_user": "root", "address": "10.0.0.11"}),
        ("h100-2.lab.example", {"ssh_user": "root", "address": "10.0.0.12"}),
    ],
    accelerator="h100",
    model="glm-5.2-fp8",
    engine="vllm",
    deployment="glm52-h100",
    network_interface="ens1f0",
)
