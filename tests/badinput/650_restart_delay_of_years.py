# expect: host bad-1.invalid: field service_restart_sec: Input should be less than or equal to 3600
from glmstack.inventory import group

# systemd would wait 31 years before restarting a failed engine.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", service_restart_sec=10**9)
