# expect: host cpu-1.invalid: field bundle: / has no manifest.json (not a bundle, or its writing did not finish)
from glmstack.inventory import group

hosts = group([("cpu-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp",
              model_source="http://10.0.0.1:8099", model_files={"m.gguf": "0" * 64}, bundle="/")
