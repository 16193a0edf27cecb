# expect: host bad-1.invalid: field extra_flags: item 1 (--uds) is refused: --uds listens on a Unix socket
from glmstack.inventory import group

# vLLM's --uds ignores --host and --port.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--uds", "/tmp/s"])
