# expect: field address: the nodes of a deployment let in each other only, by IP address
from glmstack.inventory import group

hosts = group([("h100-1.invalid", {}), ("h100-2.invalid", {})], accelerator="h100", model="glm-5.2-fp8", engine="vllm", deployment="h100", network_interface="ens1f0")
