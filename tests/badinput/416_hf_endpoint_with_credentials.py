# expect: host bad-1.invalid: field model_hf_endpoint: credentials in a URL end up in command lines and logs
from glmstack.inventory import group

# A signed hub mirror URL (user:password@ is refused by the field's pattern).
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_hf_endpoint="https://hub.lab.example/?X-Goog-Signature=0a1b2c")
