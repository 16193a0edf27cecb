# expect: host bad-1.invalid: field accelerator: 'tpu-v5' is not a known accelerator; allowed: ascend-a2
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="tpu-v5", model="glm-5.2-fp8", engine="vllm")
