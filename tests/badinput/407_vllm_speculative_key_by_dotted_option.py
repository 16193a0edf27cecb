# expect: host bad-1.invalid: field extra_flags: item 1 (--speculative-config.num_speculative_tokens) repeats --speculative-config, which num_speculative_tokens renders
from glmstack.inventory import group

# 1,000 draft tokens through a dotted JSON key of --speculative-config.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--speculative-config.num_speculative_tokens", "1000"])
