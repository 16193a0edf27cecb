# expect: host bad-1.invalid: field extra_env: set by glmstack: PATH (from the catalog)
from glmstack.inventory import group

# PATH is rendered from the engine environment and the toolkit; extra_env may not replace it.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"PATH": "/tmp:/usr/bin"})
