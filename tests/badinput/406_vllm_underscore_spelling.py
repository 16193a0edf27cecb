# expect: host bad-1.invalid: field extra_flags: item 1 (--max_model_len) repeats --max-model-len, which max_model_len renders
from glmstack.inventory import group

# vLLM's FlexibleArgumentParser reads --max_model_len as --max-model-len.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--max_model_len=1000000"])
