# expect: host bad-1.invalid: field gateway_tls_key_file: /etc/hostname is readable by others; chmod 600 it
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="http://10.213.0.1:8099", model_files={"m.gguf": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, gateway_tls_cert_file="/etc/ssl/certs/ca-certificates.crt", gateway_tls_key_file="/etc/hostname")
