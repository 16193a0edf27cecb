# expect: host bad-2.invalid: field served_model_name: replica group 'g' serves one model
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {}), ("bad-2.invalid", {"served_model_name": "other"})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, gateway_group="g")
