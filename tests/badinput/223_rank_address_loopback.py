# expect: host b.invalid: field address: 127.0.0.1 (rank 1) is not an address the other nodes
from glmstack.inventory import group

hosts = group([("a.invalid", {"address": "10.0.0.1"}), ("b.invalid", {"address": "127.0.0.1"}), ("c.invalid", {"address": "10.0.0.3"})], accelerator="h100", model="glm-5.2-bf16", engine="vllm", model_revision="1111111111111111111111111111111111111111", deployment="bf16", network_interface="ib0")
