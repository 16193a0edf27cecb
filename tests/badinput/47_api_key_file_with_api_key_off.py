# expect: host bad-1.invalid: field service_api_key_file: a key is given but service_require_api_key is false
from pathlib import Path

from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              service_api_key_file=str(Path(__file__).with_name("api-key-private")),
              service_require_api_key=False)
