# expect: host h200-1.invalid: field extra_flags: the value has 100000 items; allowed: at most 4096
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--enforce-eager"] * 100_000)
