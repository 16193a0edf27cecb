# expect: host bad-1.invalid: field base_https_proxy: 'http://proxy.lab.example:3128/"x' holds a double quote, which apt's configuration cannot hold
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              base_https_proxy='http://proxy.lab.example:3128/"x')
