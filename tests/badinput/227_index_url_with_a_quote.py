# expect: host bad-1.invalid: field ascend_pip_extra_index_urls: a URL holds only the characters RFC 3986 allows
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", ascend_pip_extra_index_urls=['https://pypi.lab/simple" --index-url "https://evil.example/simple'])
