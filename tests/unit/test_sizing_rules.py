"""Configurations that cannot fit or cannot run are refused before any host is touched, one rule each."""

from __future__ import annotations

import json

import pytest

from glmstack.catalog import load_catalog
from glmstack.cli import main
from glmstack.config import InventoryError, resolve_inventory
from glmstack.sizing import kv_bytes_per_token

PIN = "2" * 40


def refused(hosts: list[tuple[str, dict]], catalog=None) -> str:
    with pytest.raises(InventoryError) as error:
        resolve_inventory(hosts, catalog=catalog)
    return str(error.value)


def fp8(**extra) -> dict:
    return {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", **extra}


def mutated_catalog(mutate):
    data = load_catalog().model_dump()
    mutate(data)
    return type(load_catalog()).model_validate(data)


def test_bf16_glm52_on_one_h200_node_names_the_figures_and_the_ways_out():
    text = refused([("h200-1", {**fp8(model="glm-5.2-bf16", model_revision=PIN)})])
    assert text.startswith("host h200-1: field deployment: glm-5.2-bf16 needs about 1,488 GB of weights")
    assert "1 node of h200 has 1,128 GB" in text
    assert "use glm-5.2-fp8 (744 GB) or 2 nodes" in text


def test_w8a8_on_one_atlas_a2_needs_a_second_node():
    text = refused([("a2-1", {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                               "model_revision": PIN})])
    assert "glm-5.2-w8a8 needs about 744 GB of weights, 93 GB on each of 8 devices" in text
    assert "1 node of ascend-a2 has 512 GB" in text and "use 2 nodes" in text


def test_bf16_on_three_atlas_a2_is_one_node_short():
    hosts = [(f"a2-{i}", {"accelerator": "ascend-a2", "model": "glm-5.2-bf16", "engine": "vllm-ascend",
                          "model_revision": PIN, "deployment": "bf16", "network_interface": "eth1"})
             for i in range(3)]
    text = refused(hosts)
    assert "runs on 4 nodes sharing a deployment, and deployment 'bf16' has 3 hosts" in text
    assert "3 nodes of ascend-a2 have 1,536 GB" in text and "use glm-5.2-w8a8 (744 GB) or 4 nodes" in text


def test_context_longer_than_the_kv_cache_is_refused_with_what_fits():
    text = refused([("h200-1", fp8(max_model_len=1048576))])
    assert "host h200-1: does not fit: a 1.00M-token context needs 47 GB of KV cache per device (fp8 KV)" in text
    assert "lower max_model_len to 754540 or less" in text


def test_the_same_context_fits_on_b200():
    plan = resolve_inventory([("b200-1", {**fp8(accelerator="b200"), "max_model_len": 1048576})])[0]
    assert plan.sizing.fits and plan.sizing.kv_tokens > 1048576


def test_context_beyond_the_native_window_is_refused():
    text = refused([("h1", {**fp8(model="glm-4.5-fp8", model_revision=PIN), "max_model_len": 200000})])
    assert "max_model_len 200000 exceeds glm-4.5-fp8's native context of 131072" in text


def test_too_little_memory_utilization_is_refused():
    text = refused([("h200-1", fp8(gpu_memory_utilization=0.5))])
    assert "93 GB on each of 8 devices" in text and "at 0.50 memory utilization" in text


def test_mtp_on_a_checkpoint_without_it_is_refused():
    text = refused([("gh", {"accelerator": "gh200", "model": "glm-5.2-awq-int4", "engine": "vllm",
                            "model_revision": PIN, "num_speculative_tokens": 3})])
    assert "field num_speculative_tokens: glm-5.2-awq-int4 cannot use MTP" in text
    assert "glm-5.2-awq-int4-mtp-fp8 grafts seed 003's FP8 MTP layer onto it" in text


def test_a_setting_the_engine_has_no_argument_for_is_refused():
    text = refused([("cpu", {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp",
                             "model_revision": PIN, "model_entry": "a.gguf", "gpu_memory_utilization": 0.9})])
    assert "field gpu_memory_utilization: engine llama.cpp takes no gpu_memory_utilization" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fp8(engine="vllm-ascend"),
         "field engine: 'vllm-ascend' cannot run on accelerator 'h200'; allowed: vllm, sglang"),
        ({"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm"},
         "field engine: 'vllm' cannot run on accelerator 'ascend-a3'; allowed: vllm-ascend"),
        ({"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "sglang"},
         "field engine: 'sglang' cannot run on accelerator 'mi300x'; allowed: vllm"),
        (fp8(model="glm-5.2-gguf"), "field model: no recipe serves 'glm-5.2-gguf' with vllm on h200"),
        (fp8(extra_flags=["--moe-backend", "aiter"]), "field extra_flags: 'aiter' only applies to amd accelerators"),
        (fp8(extra_env={"VLLM_ROCM_USE_AITER": "1"}), "field extra_env: 'VLLM_ROCM_' only applies to amd"),
        ({"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm", "extra_env": {"HCCL_BUFFSIZE": "200"}},
         "field extra_env: 'HCCL_' only applies to huawei accelerators, not mi300x"),
        (fp8(recipe_variant="turbo"), "field recipe_variant: 'turbo' is not a recipe for glm-5.2-fp8 with vllm "
                                      "on h200; allowed: default"),
    ],
    ids=["vllm-ascend-on-nvidia", "vllm-on-ascend", "sglang-on-rocm", "gguf-on-vllm", "aiter-flag-on-nvidia",
         "aiter-env-on-nvidia", "hccl-env-on-rocm", "unknown-variant"],
)
def test_engine_and_vendor_compatibility(data, message):
    assert message in refused([("node-1", data)])


def test_deployment_members_must_serve_the_same_model():
    hosts = [("a", {**fp8(model="glm-5.2-bf16", model_revision=PIN), "deployment": "big"}),
             ("b", {**fp8(), "deployment": "big"})]
    assert "host b: field model: deployment 'big' serves one model: 'glm-5.2-bf16' as on a (rank 0)" in refused(hosts)


def test_multi_node_ascend_needs_the_collective_interface():
    hosts = [(f"a2-{i}", {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                          "model_revision": PIN, "deployment": "a2"}) for i in range(2)]
    assert "field network_interface: a multi-node deployment needs the NIC" in refused(hosts)


def test_a_fitting_recipe_still_needs_its_own_node_count():
    hosts = [(f"h{i}", {**fp8(), "deployment": "two"}) for i in range(2)]
    text = refused(hosts)
    assert "runs on 1 nodes sharing a deployment, and deployment 'two' has 2 hosts" in text


def test_offload_beyond_host_memory_is_refused():
    def bigger_offload(data):
        for recipe in data["recipes"]:
            if recipe["accelerator"] == "gh200" and recipe["model"] == "glm-5.2-fp8":
                recipe["tunables"]["cpu_offload_gb"] = 600
    text = refused([("gh", {"accelerator": "gh200", "model": "glm-5.2-fp8", "engine": "vllm"})],
                   catalog=mutated_catalog(bigger_offload))
    assert "offloading 1,288 GB needs more than the 960 GB of host memory" in text


def test_a_layout_wider_than_the_node_is_refused():
    def tp16(data):
        data["recipes"][0]["parallel"]["tensor_parallel_size"] = 16
    text = refused([("h200-1", fp8())], catalog=mutated_catalog(tp16))
    assert "the layout uses 16 devices but 1 node of h200 has 8" in text


def test_kv_dtype_name_from_another_vendor_is_refused():
    def e5m2(data):
        data["recipes"][0]["tunables"]["kv_cache_dtype"] = "fp8_e5m2"
    text = refused([("h200-1", fp8())], catalog=mutated_catalog(e5m2))
    assert "field kv_cache_dtype: 'fp8_e5m2' is not an FP8 KV-cache name on h200; allowed: fp8, fp8_e4m3" in text


def test_kv_cache_per_token_follows_the_architecture():
    catalog = load_catalog()
    tp8 = catalog.recipe("glm-5.2-fp8", "h200", "vllm").parallel
    # MLA: 78 layers x 576 cached elements, one byte each in FP8, whole on every rank.
    assert kv_bytes_per_token(catalog.models["glm-5.2-fp8"], tp8, "fp8") == 78 * 576
    # GQA: 92 layers x 2 x 8 heads x 128, split over 8 ranks, two bytes each in BF16.
    assert kv_bytes_per_token(catalog.models["glm-4.5-fp8"], tp8, None) == 92 * 2 * 8 * 128 // 8 * 2


def test_plan_exits_nonzero_and_lists_errors_when_a_host_does_not_fit(tmp_path, capsys):
    inventory = tmp_path / "inventory.py"
    inventory.write_text("from glmstack.inventory import group\n"
                         "ok = group([('fits-1', {})], accelerator='h200', model='glm-5.2-fp8', engine='vllm')\n"
                         "big = group([('bf16-1', {})], accelerator='h200', model='glm-5.2-bf16', engine='vllm',"
                         f" model_revision='{PIN}')\n")
    assert main(["plan", str(inventory), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["hosts"] == []
    assert any(line.startswith("host bf16-1: field deployment: glm-5.2-bf16 needs about 1,488 GB")
               for line in document["errors"])
