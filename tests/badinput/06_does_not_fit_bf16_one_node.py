# expect: host bad-1.invalid: field deployment: glm-5.2-bf16 needs about 1,488 GB of weights
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-bf16", engine="vllm", model_revision="3333333333333333333333333333333333333333")
