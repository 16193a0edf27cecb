# expect: host bad-1.invalid: field address: 0.0.0.0 is unspecified
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", address="0.0.0.0")
