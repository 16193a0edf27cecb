# expect: host #1: field (host): the host name 'h200-1\x00.invalid' has a control character (U+0000 at 6)
from glmstack.inventory import group

hosts = group([("h200-1\x00.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
