# expect: host bad-1.invalid: field recipe_variant: 'fastest' is not a recipe for glm-5.2-fp8 with vllm on h200; allowed: default
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", recipe_variant="fastest")
