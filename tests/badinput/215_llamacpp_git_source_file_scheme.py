# expect: host bad-1.invalid: field llamacpp_source: 'file:///srv/llama.cpp.git' has scheme file:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, llamacpp_source="file:///srv/llama.cpp.git")
