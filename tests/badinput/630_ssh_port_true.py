# expect: host h200-1.invalid: field ssh_port: the value is a boolean True; allowed: a whole number from 1 to 65535
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"ssh_port": True})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
