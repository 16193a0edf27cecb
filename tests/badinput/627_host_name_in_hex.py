# expect: host 0x7f000001: field (host): '0x7f000001' is read by resolvers as the IP address 127.0.0.1
from glmstack.inventory import group

hosts = group([("0x7f000001", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
