# expect: host #1: field (host): the host name 'h200-1\n[Service]\nExecStartPre=+/bin/sh' has a control character (U+000A at 6)
from glmstack.inventory import group

hosts = group([("h200-1\n[Service]\nExecStartPre=+/bin/sh", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
