# expect: host bad-1.invalid: does not fit: max_model_len 262144 exceeds glm-4.5-fp8's native context of 131072
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-4.5-fp8", engine="vllm", model_revision="3333333333333333333333333333333333333333", max_model_len=262144)
