# expect: host bad-1.invalid: field extra_env: the value of FOO holds a Google OAuth token
from glmstack.inventory import group

# A Google OAuth access token (ya29.) has a shape of its own.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"FOO": "ya29." + "a0AfH6SMBx3kPqLmNoPqRsTuVwXyZ0123456789abcdef"})
