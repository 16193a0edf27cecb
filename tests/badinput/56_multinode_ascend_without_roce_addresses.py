# expect: field ascend_roce_addresses: a multi-node deployment on ascend-a2 runs HCCL between nodes over each NPU's own RoCE port
from glmstack.inventory import group

hosts = group([("a2-1.invalid", {"address": "192.0.2.11"}), ("a2-2.invalid", {"address": "192.0.2.12"})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", deployment="a2", network_interface="eth1")
