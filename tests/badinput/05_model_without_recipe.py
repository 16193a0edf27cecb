# expect: host bad-1.invalid: field model: no recipe serves 'glm-5.2-awq-int4' with vllm on mi300x
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="mi300x", model="glm-5.2-awq-int4", engine="vllm")
