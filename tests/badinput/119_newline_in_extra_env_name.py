# expect: host h200-1.invalid: field extra_env: key 1 has a control character (U+000A at 10)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"NCCL_DEBUG\nLD_PRELOAD": "/tmp/x.so"})
