# expect: host 10.0.0.01: field (host): '10.0.0.01' is read by resolvers as the IP address 10.0.0.1
from glmstack.inventory import group

hosts = group([("10.0.0.01", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
