# expect: host bad-1.invalid: field base_http_proxy: 'http://proxy.lab.example:3128/$releasever' holds '$', which dnf's configuration substitutes as a variable
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_http_proxy="http://proxy.lab.example:3128/$releasever")
