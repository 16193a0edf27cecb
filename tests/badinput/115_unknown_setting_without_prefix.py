# expect: host h200-1.invalid: field gpu_memory_utilisation: unknown setting; did you mean gpu_memory_utilization?
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", gpu_memory_utilisation=0.8)
