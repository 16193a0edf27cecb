# expect: host bad-1.invalid: field llamacpp_cmake_flags: item 1 holds an AWS access key id
from glmstack.inventory import group

# A secret in any other free-form setting.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", llamacpp_cmake_flags=["-DSCCACHE_KEY=AKIAIOSFODNN7EXAMPLE"])
