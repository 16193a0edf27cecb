# expect: host h200-1.invalid: field nvidia_dcgm: Input should be a valid boolean (got 1)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", nvidia_dcgm=1)
