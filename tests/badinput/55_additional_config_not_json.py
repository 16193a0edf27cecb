# expect: host bad-1.invalid: field extra_flags: --additional-config takes one JSON object
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="ascend-a3", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="0" * 40, extra_flags=["--additional-config", "enable_mlapo=false"])
