# expect: host bad-1.invalid: field engine_requirement: glm-5.2-awq-int4-mtp-fp8 needs a vLLM with seed 003's changes
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="gh200", model="glm-5.2-awq-int4-mtp-fp8", engine="vllm", model_revision="1111111111111111111111111111111111111111", model_graft_revision="2222222222222222222222222222222222222222")
