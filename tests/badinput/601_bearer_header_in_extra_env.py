# expect: host bad-1.invalid: field extra_env: the value of EXTRA_HEADERS holds an HTTP Authorization credential
from glmstack.inventory import group

# An Authorization header value (Bearer <token>) is a secret whatever the variable is called.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"EXTRA_HEADERS": "Authorization: Bearer " + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34"})
