# expect: host bad-1.invalid: field extra_env: set by glmstack: HOME (from base_state_dir)
from glmstack.inventory import group

# HOME is the unit's state directory.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"HOME": "/root"})
