# expect: host #1: field (host): the hosts are a string; allowed: a list of host names or (name, data dict) tuples
from glmstack.inventory import group

hosts = group("h200-1.invalid", accelerator="h200", model="glm-5.2-fp8", engine="vllm")
