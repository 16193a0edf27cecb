# expect: host bad-1.invalid: field accelerator: is required
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], model="glm-5.2-fp8", engine="vllm")
