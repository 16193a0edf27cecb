# expect: host bad-1.invalid: field extra_flags: item 1 (--port) repeats --port, which port renders
from glmstack.inventory import group

# --flag=value is the same option.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", port=8081, extra_flags=["--port=9999"])
