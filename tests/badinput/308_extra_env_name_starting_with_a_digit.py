# expect: host bad-1.invalid: field extra_env: '1VLLM' is not an environment variable name
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              extra_env={"1VLLM": "1"})
