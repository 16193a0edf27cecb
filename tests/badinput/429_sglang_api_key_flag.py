# expect: host bad-1.invalid: field extra_flags: item 1 (--api-key) passes a secret on the command line
from glmstack.inventory import group

# SGLang logs its arguments, an --api-key included.
hosts = group([("bad-1.invalid", {})], accelerator="b200", model="glm-5.2-fp8", engine="sglang", service_require_api_key=False, service_bind_host="127.0.0.1", extra_flags=["--api-key", "sesame-0123456789abcdef"])
