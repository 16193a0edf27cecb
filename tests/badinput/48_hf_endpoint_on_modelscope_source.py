# expect: host bad-1.invalid: field model_hf_endpoint: only applies to hf:// sources; model_source is modelscope://Eco-Tech/GLM-5.2-w8a8
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="modelscope://Eco-Tech/GLM-5.2-w8a8", model_revision="4444444444444444444444444444444444444444", model_entry="m.gguf", model_hf_endpoint="http://hub.lab.example:8080")
