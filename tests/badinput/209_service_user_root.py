# expect: host bad-1.invalid: field base_service_user: 'root' is a system user
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_service_user="root")
