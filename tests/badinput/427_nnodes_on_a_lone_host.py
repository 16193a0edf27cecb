# expect: host bad-1.invalid: field extra_flags: item 1 (--nnodes) repeats --nnodes, which deployment renders
from glmstack.inventory import group

# Nodes and ranks are the deployment's.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--nnodes", "2"])
