# expect: host bad-1.invalid: field model_source: 'hf://GLM-5.2-FP8': a hub source is hf://<org>/<repo>[@<commit>]
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_source="hf://GLM-5.2-FP8")
