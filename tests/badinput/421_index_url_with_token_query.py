# expect: host bad-1.invalid: field ascend_pip_extra_index_urls: credentials in a URL end up in package sources and logs
from glmstack.inventory import group

# A token in an index URL's query.
hosts = group([("bad-1.invalid", {})], accelerator="ascend-a3", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="0" * 40, ascend_pip_extra_index_urls=["https://pypi.lab.example/simple?token=abc123"])
