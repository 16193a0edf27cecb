# expect: host bad-1.invalid: field service_require_api_key: sglang cannot take an API key without leaking it
from glmstack.inventory import group

# SGLang logs its arguments, an --api-key included: without the gateway (which checks the key in
# front of it), no key on 0.0.0.0 unless the host data says so.
hosts = group([("bad-1.invalid", {})], accelerator="b200", model="glm-5.2-fp8", engine="sglang",
              gateway_enabled=False)
