# expect: host a2-2.invalid: field ascend_roce_addresses: this node's RoCE subnet is 198.51.101.0/24; a2-1.invalid (rank 0) has 198.51.100.0/24
from glmstack.inventory import group

hosts = group([("a2-1.invalid", {"address": "192.0.2.11", "ascend_roce_addresses": [f"198.51.100.{11 + i}" for i in range(8)]}), ("a2-2.invalid", {"address": "192.0.2.12", "ascend_roce_addresses": [f"198.51.101.{21 + i}" for i in range(8)]})], accelerator="ascend-a2", model="glm-5.2-w8a8", engine="vllm-ascend", model_revision="3333333333333333333333333333333333333333", deployment="a2", network_interface="eth1", ascend_roce_netmask="255.255.255.0")
