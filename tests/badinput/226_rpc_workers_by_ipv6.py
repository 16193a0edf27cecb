# expect: field address: llama.cpp's RPC client splits worker:port at the first ':'
from glmstack.inventory import group

hosts = group([("a.invalid", {"address": "2001:db8::1"}), ("b.invalid", {"address": "2001:db8::2"})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_revision="1111111111111111111111111111111111111111", model_entry="UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", recipe_variant="rpc", deployment="rpc")
