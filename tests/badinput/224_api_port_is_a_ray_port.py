# expect: host a.invalid: field port: the API port 6380 is also one of Ray's cluster ports
from glmstack.inventory import group

hosts = group([("a.invalid", {"address": "10.0.0.1"}), ("b.invalid", {"address": "10.0.0.2"}), ("c.invalid", {"address": "10.0.0.3"})], accelerator="h100", model="glm-5.2-bf16", engine="vllm", model_revision="1111111111111111111111111111111111111111", deployment="bf16", network_interface="ib0", port=6380)
