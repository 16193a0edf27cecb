# expect: host h200-1.invalid: field servise_user: unknown setting; did you mean base_service_user?
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", servise_user="llm")
