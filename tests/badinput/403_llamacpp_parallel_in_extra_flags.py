# expect: host bad-1.invalid: field extra_flags: item 1 (--parallel) repeats --parallel, which max_num_seqs renders
from glmstack.inventory import group

# 100000 slots: max_num_seqs owns --parallel.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", extra_flags=["--parallel", "100000"])
