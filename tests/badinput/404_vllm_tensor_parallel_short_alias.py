# expect: host bad-1.invalid: field extra_flags: item 1 (-tp) repeats --tensor-parallel-size, which recipe_variant renders
from glmstack.inventory import group

# The recipe's parallel layout (and the plan's sizing) would no longer hold.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["-tp", "4"])
