# expect: host bad-1.invalid: field base_http_proxy: a URL holds only the characters RFC 3986 allows
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_http_proxy='http://proxy.lab:3128"; APT::Update::Pre-Invoke:: "touch /tmp/pwned')
