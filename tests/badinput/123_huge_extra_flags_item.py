# expect: host h200-1.invalid: field extra_flags: item 0 has 1500003 characters; allowed: at most 4096
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--x" + "a" * 1_500_000])
