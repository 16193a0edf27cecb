# expect: host bad-1.invalid: field extra_flags:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              extra_flags=["--enforce-eager\n", "ExecStartPre=+/usr/bin/touch", "/tmp/pwned"])
