# expect: host bad-1.invalid: field model_graft_revision: glm-5.2-mtp-fp8-delta (the graft's delta): hf://dnhkng/GLM-5.2-AWQ-INT4-FP8-MTP-delta (glm-5.2-mtp-fp8-delta) is not locked: run glmstack lock
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="gh200", model="glm-5.2-awq-int4-mtp-fp8", engine="vllm", model_revision="1111111111111111111111111111111111111111", engine_requirement="vllm @ git+https://git.lab.example/vllm.git@3333333333333333333333333333333333333333")
