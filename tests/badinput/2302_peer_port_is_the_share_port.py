# expect: host bad-1.invalid: field gateway_peer_port: 8097 is also model_share_port
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, gateway_group="g", gateway_peer_port=8097)
