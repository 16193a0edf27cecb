"""Two Atlas 800 A2 nodes (8 NPUs each): GLM-5.2 W8A8 on vLLM-Ascend, data parallel (seed 002).

    glmstack plan inventory/ascend_a2.py       # what would run, and whether it fits (no host contacted)
    pyinfra inventory/ascend_a2.py deploys/glm52.py

Both hosts share one `deployment`; the first listed is rank 0 (the head), the other runs headless.
Set each host's `address` on the NPU network and the `network_interface` carrying HCCL traffic.
Between the nodes HCCL runs over each NPU's own RoCE port: give each host its 8 NPUs' addresses
(`ascend_roce_addresses`, NPU 0 first; all of a deployment's in one subnet) and their netmask;
the deploy sets those that differ with hccn_tool. The addresses below are from a documentation
range (Huawei's own examples use 192.168.100.x with 255.255.255.0): replace them with yours.
The W8A8 weights are on ModelScope: `glmstack lock inventory/ascend_a2.py` pins their commit and sums
(the deploy refuses until then), or set model_revision by hand.

Replace the host names with your machines (and their SSH settings); host data is checked
against the catalog when this file loads, before anything is contacted.
"""

from glmstack.inventory import group

ascend_a2 = group(
    [
        ("a2-1.lab.example", {"ssh_user": "root", "address": "192.0.2.11",
                              "ascend_roce_addresses": [f"198.51.100.{11 + npu}" for npu in range(8)]}),
        ("a2-2.lab.example", {"ssh_user": "root", "address": "192.0.2.12",
                              "ascend_roce_addresses": [f"198.51.100.{21 + npu}" for npu in range(8)]}),
    ],
    accelerator="ascend-a2",
    model="glm-5.2-w8a8",
    engine="vllm-ascend",
    deployment="glm52-a2",
    network_interface="enp189s0f0",
    ascend_roce_netmask="255.255.255.0",
    # model_revision="<40-character commit sha of Eco-Tech/GLM-5.2-w8a8>",
    # ascend_packages="/srv/ascend-packages",  # your package set, with its manifest.yaml
)
