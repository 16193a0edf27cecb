# expect: host bad-1.invalid: field base_packages: item 0 ('/tmp/evil.deb') is not a package name
from glmstack.inventory import group

# A path installs a package from outside the configured repositories.
hosts = group([("bad-1.invalid", {})], accelerator="cpu", model="glm-5.2-gguf", engine="llama.cpp", model_source="/srv/models/glm", model_entry="m.gguf", base_packages=["/tmp/evil.deb"])
