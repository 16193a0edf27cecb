# expect: field ascend_roce_netmask: '255.0.255.0' is not a netmask; allowed: a dotted IPv4 netmask
from glmstack.inventory import group

hosts = group([("a2-1.invalid", {"address": "192.0.2.11", "ascend_roce_addresses": [f"198.51.100.{11 + i}" for i in range(8)]}), ("a2-2.invalid", {"address": "192.0.2.12", "ascend_roce_addresses": [f"198.51.100.{21 + i}" for i in range(8)]})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", deployment="a2", network_interface="eth1", ascend_roce_netmask="255.0.255.0")
