# expect: host h200-1.invalid: field base_packages: item 0 has a space other than U+0020 (U+00A0 at 4)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_packages=["curl\u00a0jq"])
