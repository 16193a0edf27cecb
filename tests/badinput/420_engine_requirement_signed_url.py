# expect: host bad-1.invalid: field engine_requirement: credentials in a URL end up in command lines and logs
from glmstack.inventory import group

# A signed wheel URL (sig=).
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", engine_requirement="vllm @ https://wheels.lab.example/vllm-0.23.0-cp38-abi3-linux_x86_64.whl?sig=0a1b2c#sha256=" + "a" * 64)
