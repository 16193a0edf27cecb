# expect: host bad-1.invalid: field extra_flags: item 1 (--rpc) repeats --rpc, which deployment renders
from glmstack.inventory import group

# RPC workers are the deployment's nodes (their firewall is made for them).
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", extra_flags=["--rpc", "10.0.0.9:50052"])
