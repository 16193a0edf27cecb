# expect: host bad-1.invalid: field amd_rocm: '6.2' is not a ROCm release glmstack installs; allowed: 6.4.3, 7.2.1
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="mi300x", model="glm-5.2-fp8", engine="vllm", amd_rocm="6.2")
