# expect: host bad-1.invalid: field model_hf_token_file: is not a file on this machine (the value is not shown
from glmstack.inventory import group

# The token where its file's path belongs: never echoed.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_hf_token_file="hf_" + "Ab3dEf9hIj2kLm5nOp8qRs1tUv4wXy7zAb")
