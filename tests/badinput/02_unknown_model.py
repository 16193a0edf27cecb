# expect: host bad-1.invalid: field model: 'glm-6' is not a known model; allowed: glm-4.5-bf16
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-6", engine="vllm")
