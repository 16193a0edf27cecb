# expect: host bad-1.invalid: field engine: is required
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8")
