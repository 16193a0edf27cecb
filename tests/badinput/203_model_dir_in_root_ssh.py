# expect: host bad-1.invalid: field model_dir: /root/.ssh lies inside /root
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_dir="/root/.ssh")
