# expect: host bad-1.invalid: field model_entry: String should match pattern
from glmstack.inventory import group

# A leading dash reads as an option where the entry is a command-line word.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="-m.gguf")
