"""8xH200 nodes: GLM-5.2 FP8 on vLLM, the standard recipe of seed 000 (TP8, FP8 KV, MTP 5).

    glmstack plan inventory/h200.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/h200.py deploys/glm52.py

Other catalog recipes on this hardware: glm-5.2-bf16 over two nodes (give both hosts one
`deployment`), glm-4.5-fp8 and glm-4.5-bf16 (seed 004; recipe_variant="mtp" for TP4 + MTP 1).

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

h200 = group(
    [
        ("h200-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="h200",
    model="glm-5.2-fp8",
    engine="vllm",
)
