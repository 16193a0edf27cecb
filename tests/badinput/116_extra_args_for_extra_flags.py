# expect: host h200-1.invalid: field extra_args: unknown setting; did you mean extra_flags?
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_args=["--enforce-eager"])
