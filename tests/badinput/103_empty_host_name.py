# expect: host #1: field (host): the host name is empty
from glmstack.inventory import group

hosts = group([("", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
