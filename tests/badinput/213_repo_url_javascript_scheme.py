# expect: host bad-1.invalid: field nvidia_repo_url: 'javascript:alert(1)' has scheme javascript:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", nvidia_repo_url="javascript:alert(1)")
