# expect: host bad-1.invalid: field extra_env: 'LD_PRELOAD=/tmp/evil.so X' is not an environment variable name
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              extra_env={"LD_PRELOAD=/tmp/evil.so X": "1"})
