# expect: host bad-1.invalid: field base_https_proxy: credentials in a proxy URL
from glmstack.inventory import group

# A token in the proxy URL's query.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_https_proxy="http://proxy.lab.example:3128/?access_token=abc123")
