# expect: host h200-1.invalid: field base_http_proxy: the value has a control character (U+0009 at 12)
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_http_proxy="http://proxy\t:3128")
