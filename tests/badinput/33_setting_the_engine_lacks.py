# expect: host bad-1.invalid: field gpu_memory_utilization: engine llama.cpp takes no gpu_memory_utilization
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, gpu_memory_utilization=0.9)
