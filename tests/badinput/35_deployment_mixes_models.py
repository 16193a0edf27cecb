# expect: host n2.invalid: field model: deployment 'big' serves one model
from glmstack.inventory import group

hosts = group([("n1.invalid", {}), ("n2.invalid", {"model": "glm-4.5-fp8", "model_revision": "3333333333333333333333333333333333333333"})], accelerator="h200", model="glm-5.2-bf16", engine="vllm", model_revision="3333333333333333333333333333333333333333", deployment="big")
