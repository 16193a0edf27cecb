# expect: host h200-1.invalid: field (host): listed 2 times (as h200-1.invalid, h200-1.invalid.; one host
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {}), ("h200-1.invalid.", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
