"""8xMI300X nodes: GLM-5.2 FP8 on vLLM with AITER (seed 000's ROCm recipe).

    glmstack plan inventory/mi300x.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/mi300x.py deploys/glm52.py

512K context, 32 sequences, 0.80 memory utilization; raise them with your node's headroom.

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

mi300x = group(
    [
        ("mi300x-1.lab.example", {"ssh_user": "root"}),
    ],
    accelerator="mi300x",
    model="glm-5.2-fp8",
    engine="vllm",
)
