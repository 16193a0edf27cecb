# expect: host bad-1.invalid: field extra_env: the value of PIP_INDEX_URL holds a URL with a password
from glmstack.inventory import group

# An index URL with user:password in the engine's environment.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"PIP_INDEX_URL": "https://builder:s3cret@pypi.lab.example/simple"})
