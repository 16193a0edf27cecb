# expect: host bad-1.invalid: field model_revision: modelscope://Eco-Tech/GLM-5.2-w8a8 needs a pinned commit: set model_revision to a 40-character commit sha of the repository
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="modelscope://Eco-Tech/GLM-5.2-w8a8", model_entry="m.gguf")
