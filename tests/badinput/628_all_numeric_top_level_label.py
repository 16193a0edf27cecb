# expect: host 999.999.999.999: field (host): '999.999.999.999' ends in an all-numeric label
from glmstack.inventory import group

hosts = group([("999.999.999.999", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
