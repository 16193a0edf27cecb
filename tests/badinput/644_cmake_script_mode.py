# expect: host bad-1.invalid: field llamacpp_cmake_flags: item 0 ('-P') is not -D<NAME>=<value>
from glmstack.inventory import group

# -P runs a CMake script.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", llamacpp_cmake_flags=["-P", "/tmp/evil.cmake"])
