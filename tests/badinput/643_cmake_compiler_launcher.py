# expect: host bad-1.invalid: field llamacpp_cmake_flags: item 0 ('-DCMAKE_C_COMPILER_LAUNCHER=/tmp/evil') sets CMAKE_C_COMPILER_LAUNCHER
from glmstack.inventory import group

# A compiler launcher is a program the build runs on every file.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", llamacpp_cmake_flags=["-DCMAKE_C_COMPILER_LAUNCHER=/tmp/evil"])
