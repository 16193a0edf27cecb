# expect: host bad-1.invalid: field num_speculative_tokens: Input should be greater than or equal to 0
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", num_speculative_tokens=-1)
