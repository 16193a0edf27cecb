# expect: host bad-1.invalid: field extra_flags: item 2 holds a JSON Web Token
from glmstack.inventory import group

# A bearer token in a header option.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--otlp-traces-endpoint", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsYWIifQ.c2lnbmF0dXJlLXZhbHVl"])
