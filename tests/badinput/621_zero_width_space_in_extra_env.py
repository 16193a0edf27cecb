# expect: host h200-1.invalid: field extra_env: the value of HF_HUB_OFFLINE has an invisible format character (U+200B at 1)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"HF_HUB_OFFLINE": "1\u200b"})
