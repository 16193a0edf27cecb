# expect: host bad-1.invalid: field engine_requirement: String should match pattern
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", engine_requirement="vllm @ git+https://git.lab.example/vllm.git@main")
