# expect: host bad-1.invalid: field nvidia_driver_branch: CUDA 13.0 needs driver branch 580 or newer; got 575
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              nvidia_driver_branch="575")
