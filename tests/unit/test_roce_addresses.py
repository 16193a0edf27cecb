"""The NPUs' RoCE addresses in host data (ascend_roce_addresses): how many the catalog's accelerator
needs, when they are required, and what is refused before any host is touched."""

from __future__ import annotations

import pytest

from glmstack.config import InventoryError, resolve_inventory

PIN = "1" * 40


def a3(**settings) -> dict:
    return {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": PIN,
            **settings}


def refused(hosts) -> str:
    with pytest.raises(InventoryError) as error:
        resolve_inventory(hosts)
    return str(error.value)


def test_the_count_is_the_accelerators_npus_from_the_catalog():
    eight = [f"198.51.100.{1 + npu}" for npu in range(8)]
    assert refused([("a3-1", a3(ascend_roce_addresses=eight, ascend_roce_netmask="255.255.255.0"))]) == (
        "host a3-1: field ascend_roce_addresses: 8 addresses given; ascend-a3 has 16 NPUs: give one IPv4 address "
        "for each, NPU 0 first")
    sixteen = [f"198.51.100.{1 + npu}" for npu in range(16)]
    plan, = resolve_inventory([("a3-1", a3(ascend_roce_addresses=sixteen, ascend_roce_netmask="255.255.255.0"))])
    assert plan.ascend.roce_addresses == tuple(sixteen)
    assert plan.ascend.platform.roce.hccn_tool.endswith("/driver/tools/hccn_tool")


def test_a_lone_node_needs_none_and_gets_none():
    plan, = resolve_inventory([("a3-1", a3())])
    assert plan.ascend.roce_addresses == () and plan.ascend.roce_netmask is None


def test_a_lone_nodes_roce_address_may_not_be_its_own_address():
    sixteen = [f"198.51.100.{1 + npu}" for npu in range(16)]
    text = refused([("a3-1", a3(address="198.51.100.16", ascend_roce_addresses=sixteen,
                                ascend_roce_netmask="255.255.255.0"))])
    assert text == ("host a3-1: field ascend_roce_addresses: 198.51.100.16 (NPU 15) is this host's own address "
                    "(address); the NPUs' RoCE ports need addresses of their own")


def test_the_setting_is_refused_off_ascend():
    text = refused([("h200-1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm",
                                "ascend_roce_netmask": "255.255.255.0"})])
    assert "host h200-1: field ascend_roce_netmask: only applies to Huawei Ascend accelerators" in text


def test_a_misspelt_setting_is_named():
    assert "field ascend_roce_adresses: unknown setting; did you mean ascend_roce_addresses?" in refused(
        [("a3-1", a3(ascend_roce_adresses=["198.51.100.1"]))])
