# expect: host bad-1.invalid: field model_revision: String should match pattern '^[0-9a-f]{40}$'
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_revision="main")
