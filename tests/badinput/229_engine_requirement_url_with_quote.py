# expect: host bad-1.invalid: field engine_requirement: a URL holds only the characters RFC 3986 allows
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", engine_requirement='vllm @ https://wheels.lab/vllm"$(id).whl#sha256=' + "a" * 64)
