# expect: host h200-1.invalid: field _sudo_password: a password in host data is a secret
from glmstack.inventory import group

hosts = group([("h200-1.invalid", {"_sudo_password": "correct horse"})], accelerator="h200", model="glm-5.2-fp8", engine="vllm")
