# expect: host bad-1.invalid: field extra_env: PYTHONPATH would make the engine load or run other code
from glmstack.inventory import group

# Modules from elsewhere shadow the engine's own.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"PYTHONPATH": "/tmp/mods"})
