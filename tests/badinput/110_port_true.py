# expect: host h200-1.invalid: field port: Input should be a valid integer (got True)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", port=True)
