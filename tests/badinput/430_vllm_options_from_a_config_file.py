# expect: host bad-1.invalid: field extra_flags: item 1 (--config) is refused: --config reads further options from a file on the host
from glmstack.inventory import group

# vLLM's --config reads a YAML file of options: a `host: 0.0.0.0` in it would undo service_bind_host unseen.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--config", "/srv/vllm.yaml"])
