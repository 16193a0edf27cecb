# expect: host bad-1.invalid: field base_state_dir: /home/alice is a user's home itself
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_state_dir="/home/alice")
