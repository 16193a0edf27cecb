# expect: host h200-1.invalid: field ssh_port: the value is a string; allowed: a whole number from 1 to 65535
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"ssh_port": "2222"})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
