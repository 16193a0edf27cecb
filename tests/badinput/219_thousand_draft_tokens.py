# expect: host bad-1.invalid: field num_speculative_tokens: 1000 is more than vllm takes; allowed: at most 16
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", num_speculative_tokens=1000)
