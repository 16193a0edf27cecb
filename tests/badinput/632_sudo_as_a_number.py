# expect: host h200-1.invalid: field _sudo: the value is an integer 1; allowed: True or False
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"_sudo": 1})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
