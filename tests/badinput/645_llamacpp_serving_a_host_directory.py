# expect: host bad-1.invalid: field extra_flags: item 1 (--path) is refused: --path serves the files of a host directory
from glmstack.inventory import group

# llama-server's --path serves a directory's files over the API port.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", extra_flags=["--path", "/"])
