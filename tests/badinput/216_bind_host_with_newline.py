# expect: host bad-1.invalid: field service_bind_host:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", service_bind_host="127.0.0.1\n")
