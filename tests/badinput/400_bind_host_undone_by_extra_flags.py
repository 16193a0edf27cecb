# expect: host bad-1.invalid: field extra_flags: item 3 (--host) repeats --host, which service_bind_host renders
from glmstack.inventory import group

# Loopback without an API key, then --host 0.0.0.0: the engine takes the last --host and serves everyone.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", service_bind_host="127.0.0.1", extra_flags=["--threads", "8", "--host", "0.0.0.0"])
