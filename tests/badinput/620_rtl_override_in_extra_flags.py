# expect: host h200-1.invalid: field extra_flags: item 1 has an invisible format character (U+202E at 0)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--served-model-name", "\u202egnp.exe"])
