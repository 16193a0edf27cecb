# expect: host bad-1.invalid: field extra_env: VLLM_ASCEND_ENABLE_MLAPO is a fallback for --additional-config key enable_mlapo, which vllm-ascend is dropping
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="ascend-a3", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="0" * 40, extra_env={"VLLM_ASCEND_ENABLE_MLAPO": "0"})
