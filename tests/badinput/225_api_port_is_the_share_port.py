# expect: host bad-1.invalid: field port: the API port 8097 is also model_share_port (8097)
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", port=8097)
