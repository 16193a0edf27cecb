# expect: host bad-1.invalid: field port: Input should be less than or equal to 65535
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", port=70000)
