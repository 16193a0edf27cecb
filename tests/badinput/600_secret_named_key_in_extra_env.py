# expect: host bad-1.invalid: field extra_env: OPENAI_KEY looks like a secret; secrets go in a 0600 file
from glmstack.inventory import group

# A name whose last word is KEY holds a key: refused, not written into the env file.
hosts = group([("bad-1.invalid", {})], accelerator="h200", model="glm-5.2-fp8", engine="vllm", extra_env={"OPENAI_KEY": "abcd1234efgh5678ijkl"})
