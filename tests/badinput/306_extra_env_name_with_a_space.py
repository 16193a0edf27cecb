# expect: host bad-1.invalid: field extra_env: 'VLLM LOGGING' is not an environment variable name; allowed: letters, digits and _, not starting with a digit
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              extra_env={"VLLM LOGGING": "INFO"})
