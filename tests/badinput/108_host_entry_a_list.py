# expect: host #1: field (host): entry 1 is a list of 2; allowed: a (name, data dict) tuple
from glmstack.inventory import group

hosts = group([["h200-1.invalid", {}]], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
