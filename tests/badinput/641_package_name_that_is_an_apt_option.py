# expect: host bad-1.invalid: field base_packages: item 0 ('-o') is not a package name
from glmstack.inventory import group

# Each item is a word of apt-get install: -o DPkg::Pre-Invoke runs a command as root.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", base_packages=["-o", "DPkg::Pre-Invoke::=touch /tmp/x"])
