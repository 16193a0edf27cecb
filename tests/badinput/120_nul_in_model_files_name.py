# expect: host h200-1.invalid: field model_files: key 1 has a control character (U+0000 at 4)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_files={"x.gg\x00uf": "ab" * 32})
