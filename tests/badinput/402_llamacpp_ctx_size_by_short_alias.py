# expect: host bad-1.invalid: field extra_flags: item 1 (-c) repeats --ctx-size, which max_model_len renders
from glmstack.inventory import group

# Out of range, and past the sizing: -c is --ctx-size in common/arg.cpp.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", extra_flags=["-c", "100000000"])
