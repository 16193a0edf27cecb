# expect: host h200-1.invalid: field extra_flags: item 1 has a control character (U+000A at 4)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--max-num-batched-tokens", "8192\nExecStartPre=+/bin/sh -c id"])
