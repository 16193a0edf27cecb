# expect: host bad-1.invalid: field extra_env: LD_PRELOAD would make the engine load or run other code
from glmstack.inventory import group

# A preloaded library runs inside the engine.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"LD_PRELOAD": "/tmp/evil.so"})
