# expect: host h200-1.invalid: field served_model_name: the value has a control character (U+007F at 3)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", served_model_name="glm\x7f")
