# expect: host #1: field (host): a host name is a string; got a list
from glmstack.inventory import group

hosts = group([(["h200-1.invalid", "h200-2.invalid"], {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
