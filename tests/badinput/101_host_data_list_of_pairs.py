# expect: host h200-1.invalid: field (data): the host's data is a list; allowed: a dict of settings
from glmstack.inventory import group

hosts = group([("h200-1.invalid", [("port", 8000)])], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
