# expect: host bad-1.invalid: field extra_flags: item 1 (--registry-token) passes a secret on the command line
from glmstack.inventory import group

# A long random value after an option whose name says token.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--registry-token", "Zq8vR2mX9pL4kT7wB3nYc6"])
