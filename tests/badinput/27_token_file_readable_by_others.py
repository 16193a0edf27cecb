# expect: host bad-1.invalid: field model_hf_token_file:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", model_hf_token_file=str(__import__("pathlib").Path(__file__).with_name("world-readable-token")))
