# expect: host bad-1.invalid: field model_revision: modelscope://Eco-Tech/GLM-5.2-w8a8 (glm-5.2-gguf) is not locked: run glmstack lock
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="modelscope://Eco-Tech/GLM-5.2-w8a8", model_entry="m.gguf")
