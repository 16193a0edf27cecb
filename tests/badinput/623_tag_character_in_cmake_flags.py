# expect: host cpu-1.invalid: field llamacpp_cmake_flags: item 0 has an invisible format character (U+E0041 at 7)
from glmstack.inventory import group

hosts = group([("cpu-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", llamacpp_cmake_flags=["-DGGML=\U000e0041ON"])
