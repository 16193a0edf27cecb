# expect: host bad-1.invalid: does not fit: a 1.00M-token context needs 47 GB of KV cache per device
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", max_model_len=1048576)
