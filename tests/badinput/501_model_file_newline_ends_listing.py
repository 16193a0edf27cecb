# expect: host bad-1.invalid: field model_files: key 1 has a control character (U+000A at 9)
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={'tiny.gguf\nLISTING\ntouch /tmp/pwned\n': "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
