# expect: host bad-1.invalid: field base_servise_user: unknown setting; did you mean base_service_user?
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_servise_user="llm")
