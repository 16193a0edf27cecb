# expect: host bad-1.invalid: field model_exclude: '--local-dir=/etc' starts with '-'
from glmstack.inventory import group

# A pattern starting with '-' is read as an option by the download tool.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_exclude=["--local-dir=/etc"])
