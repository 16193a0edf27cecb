# expect: host bad-1.invalid: field engine: 'vllm-ascend' cannot run on accelerator 'h200'; allowed: vllm, sglang
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm-ascend")
