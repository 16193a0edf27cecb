# expect: host bad-1.invalid: field port: Input should be a valid integer
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", port="eighty")
