# expect: host bad-1.invalid: field port: 80 is below 1024
from glmstack.inventory import group

# The engine runs unprivileged with no capabilities: it cannot bind port 80.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", port=80)
