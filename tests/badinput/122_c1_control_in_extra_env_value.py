# expect: host h200-1.invalid: field extra_env: the value of NCCL_DEBUG has a control character (U+0085 at 4)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"NCCL_DEBUG": "INFO\x85"})
