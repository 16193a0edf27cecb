# expect: host bad-1.invalid: field base_https_proxy: a proxy URL holds no whitespace, backslash
from glmstack.inventory import group

# pyinfra writes dnf.conf's proxy line with sed, which reads \\n as a new line: sslverify=0 would follow.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", base_https_proxy=r"http://proxy.lab.example:3128/\nsslverify=0")
