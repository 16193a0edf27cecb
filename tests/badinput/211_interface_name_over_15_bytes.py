# expect: host bad-1.invalid: field network_interface: 'enp65s0f0np0-lab' is not an interface name
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", network_interface="enp65s0f0np0-lab")
