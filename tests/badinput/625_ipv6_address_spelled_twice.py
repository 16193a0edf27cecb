# expect: host ::1: field (host): listed 2 times (as ::1, 0:0:0:0:0:0:0:1; one host
from glmstack.inventory import group

hosts = group([("::1", {}), ("0:0:0:0:0:0:0:1", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
