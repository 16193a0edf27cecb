# expect: host bad-1.invalid: field num_speculative_tokens: glm-5.2-awq-int4 cannot use MTP
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="gh200", model="glm-5.2-awq-int4", engine="vllm", model_revision="3333333333333333333333333333333333333333", num_speculative_tokens=3)
