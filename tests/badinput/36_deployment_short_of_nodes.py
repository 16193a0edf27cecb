# expect: runs on 4 nodes sharing a deployment, and deployment 'bf16' has 3 hosts
from glmstack.inventory import group

hosts = group([("n1.invalid", {}), ("n2.invalid", {}), ("n3.invalid", {})], accelerator="ascend-a2", model="glm-5.2-bf16", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", deployment="bf16", network_interface="eth1")
