# expect: host a2-1.invalid: field (host): listed 2 times
from glmstack.inventory import group

hosts = group([("a2-1.invalid", {}), ("a2-1.invalid", {})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", deployment="a2", network_interface="eth1")
