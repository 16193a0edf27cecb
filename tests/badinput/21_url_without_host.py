# expect: host bad-1.invalid: field model_source: 'http://' is not a URL with a host
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
