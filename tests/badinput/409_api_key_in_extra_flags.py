# expect: host bad-1.invalid: field extra_flags: item 1 (--api-key) passes a secret on the command line
from glmstack.inventory import group

# The key would be in the 0644 unit, the journal and plan output.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", extra_flags=["--api-key", "sesame-0123456789abcdef"])
