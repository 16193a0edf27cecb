# expect: host bad-1.invalid: field base_http_proxy: a proxy URL holds no whitespace, backslash, backtick or non-ASCII character
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_http_proxy='http://proxy.lab.example:3128"; APT::Update::Pre-Invoke:: "touch /tmp/pwned')
