# expect: host bad-1.invalid: field extra_flags: item 2 holds a Hugging Face token (hf_...)
from glmstack.inventory import group

# A token's shape anywhere in extra_flags.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_flags=["--some-option", "hf_" + "Ab3dEf9hIj2kLm5nOp8qRs1tUv4wXy7zAb"])
