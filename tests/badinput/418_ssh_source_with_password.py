# expect: host bad-1.invalid: field llamacpp_source: credentials in a URL end up in command lines and logs
from glmstack.inventory import group

# ssh:// with a password (git@ alone would be fine).
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", llamacpp_source="ssh://git:s3cret@git.lab.example/llama.cpp.git")
