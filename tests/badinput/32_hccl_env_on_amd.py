# expect: host bad-1.invalid: field extra_env: 'HCCL_' only applies to huawei accelerators, not mi300x
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="mi300x", model="glm-5.2-fp8", engine="vllm", extra_env={"HCCL_BUFFSIZE": "200"})
