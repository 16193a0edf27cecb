# expect: host bad-1.invalid: field ascend_pip_extra_index_urls: 'file:///srv/simple' has scheme file:
from glmstack.inventory import group

hosts = group([("bad-1.invalid", {})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", ascend_pip_extra_index_urls=["file:///srv/simple"])
