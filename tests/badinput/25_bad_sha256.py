# expect: host bad-1.invalid: field model_files: 'm.gguf': sha256 must be 64 lowercase hex digits
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "not-a-digest"})
