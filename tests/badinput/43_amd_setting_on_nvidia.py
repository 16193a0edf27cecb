# expect: host bad-1.invalid: field amd_rocm: only applies to AMD accelerators; h200 is nvidia
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", amd_rocm="7.2.1")
