# expect: host bad-1.invalid: field extra_env: set by glmstack: https_proxy (from base_https_proxy)
from glmstack.inventory import group

# Proxies come from their settings (checked for credentials), also when those are unset.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"https_proxy": "http://proxy.lab.example:3128"})
