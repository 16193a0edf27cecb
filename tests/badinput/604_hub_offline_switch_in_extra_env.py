# expect: host bad-1.invalid: field extra_env: set by glmstack: HF_HUB_OFFLINE (from the catalog)
from glmstack.inventory import group

# glmstack renders HF_HUB_OFFLINE itself; extra_env may not replace it.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"HF_HUB_OFFLINE": "0"})
