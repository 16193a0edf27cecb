# expect: host bad-1.invalid: field nvidia_cuda: sglang 0.5.21 is built for CUDA 13.0 only; got 12.9
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="b200", model="glm-5.2-fp8", engine="sglang",
              nvidia_cuda="12.9", service_bind_host="127.0.0.1")
