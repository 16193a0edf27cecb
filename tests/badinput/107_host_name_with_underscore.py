# expect: host h200_1.invalid: field (host): 'h200_1.invalid' is not a host name; allowed: an RFC 1123 host name
from glmstack.inventory import group

hosts = group([("h200_1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
