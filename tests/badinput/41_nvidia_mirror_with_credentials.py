# expect: host bad-1.invalid: field nvidia_repo_url: credentials in a URL end up in package sources and logs; give the mirror without them
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm",
              nvidia_repo_url="https://builder:s3cret@mirror.lab.example/cuda/repos")
