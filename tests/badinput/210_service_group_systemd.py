# expect: host bad-1.invalid: field base_service_group: 'systemd-journal' is a system group
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", base_service_group="systemd-journal")
