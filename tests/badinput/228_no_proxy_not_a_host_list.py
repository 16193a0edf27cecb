# expect: host bad-1.invalid: field base_no_proxy: 'lab hosts' is not a host
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_no_proxy="localhost,lab hosts")
