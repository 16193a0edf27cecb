# expect: host H200-1.invalid: field (host): listed 2 times (as H200-1.invalid, h200-1.invalid; host names are case-insensitive)
from glmstack.inventory import group

hosts = group([("H200-1.invalid", {}), ("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
