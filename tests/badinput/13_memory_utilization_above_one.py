# expect: host bad-1.invalid: field gpu_memory_utilization: Input should be less than or equal to 1
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", gpu_memory_utilization=1.5)
