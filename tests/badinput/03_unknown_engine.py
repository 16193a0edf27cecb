# expect: host bad-1.invalid: field engine: 'tensorrt-llm' is not a known engine; allowed: llama.cpp, sglang, vllm, vllm-ascend
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="tensorrt-llm")
