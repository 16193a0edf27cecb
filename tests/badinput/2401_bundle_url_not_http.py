# expect: host cpu-1.invalid: field bundle: 'ftp://10.0.0.1/bundle' is not an http(s) URL
from glmstack.inventory import group

hosts = group([("cpu-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp",
              model_source="http://10.0.0.1:8099", model_files={"m.gguf": "0" * 64}, bundle="ftp://10.0.0.1/bundle")
