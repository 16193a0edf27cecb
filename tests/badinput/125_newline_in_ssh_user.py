# expect: host h200-1.invalid: field ssh_user: the value has a control character (U+000A at 4)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"ssh_user": "root\n"})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
