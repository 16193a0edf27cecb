# expect: host bad-1.invalid: field extra_flags: item 1 (--model) repeats --model-path, which model_dir renders
from glmstack.inventory import group

# SGLang's --model is --model-path: other weights than the plan fetched and sized.
hosts = group([("bad-1.invalid", {})], accelerator="b200", model="glm-5.2-fp8", engine="sglang", service_require_api_key=False, extra_flags=["--model", "/srv/other"])
