# expect: host bad-1.invalid: field extra_flags: item 2 holds an HTTP Authorization credential
from glmstack.inventory import group

# Basic <base64 user:password> in a free-form engine argument.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--otlp-traces-headers", "Authorization=Basic " + "bGFiOnB3LUxrMjl4UXo5OTk="])
