# expect: host bad-1.invalid: field extra_env:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              extra_env={"VLLM_LOGGING_LEVEL\nLD_PRELOAD": "/tmp/evil.so"})
