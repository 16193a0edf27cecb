# expect: host h200-1.invalid: field port: the API port 2222 is the host's ssh_port
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"ssh_port": 2222})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", port=2222)
