# expect: host bad-1.invalid: field base_http_proxy: credentials in a proxy URL end up in apt's configuration (0644)
from glmstack.inventory import group

# apt's proxy file is 0644 and the units' environment is shown by plan.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_http_proxy="http://lab:s3cret@proxy.lab.example:3128")
