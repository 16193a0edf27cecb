# expect: host bad-1.invalid: field extra_env: the value of HF_HUB_CACHE holds a Hugging Face token (hf_...)
from glmstack.inventory import group

# Names are checked for secrets (26); values too.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"HF_HUB_CACHE": "hf_" + "Ab3dEf9hIj2kLm5nOp8qRs1tUv4wXy7zAb"})
