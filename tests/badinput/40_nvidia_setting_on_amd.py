# expect: host bad-1.invalid: field nvidia_allow_reboot: only applies to NVIDIA accelerators; mi300x is amd
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="mi300x", model="glm-5.2-fp8", engine="vllm",
              nvidia_allow_reboot=True)
