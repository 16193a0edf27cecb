# expect: host h200-1.invalid: field _sudoo: unknown setting; did you mean _sudo?
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"_sudoo": True})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
