"""The shape of single values (glmstack/values.py, catalog host.yaml): every path setting, found in the
schema, refuses traversal and system trees; addresses join ports the way each engine parses them."""

from __future__ import annotations

import socket
import subprocess

import pytest

from glmstack.catalog import load_catalog
from glmstack.config import HostConfig, HostDataError, InventoryError, resolve, resolve_inventory
from glmstack.render import ray_head_wait_command
from glmstack.values import host_path_fields, host_port, interface_problem, path_problem, url_host
from tests.unit.hostdata import CPU_MIRROR

PATH_FIELDS = host_path_fields(HostConfig)
RULES = load_catalog().host


def test_the_schema_marks_every_host_path_setting():
    assert set(PATH_FIELDS) >= {"base_prefix", "base_state_dir", "base_config_dir", "model_dir",
                                "llamacpp_ccache_dir", "model_source"}
    # A setting that names a directory on the host without the mark would escape the checks.
    unmarked = [name for name, info in HostConfig.model_fields.items()
                if name not in PATH_FIELDS and (name.endswith(("_dir", "_prefix"))
                                                or "on the host" in (info.description or ""))]
    assert unmarked == []


def _data(field: str, value: str) -> dict:
    data = {**CPU_MIRROR, field: value}
    if field == "model_source":
        data.update(model_files={}, model_entry="tiny.gguf")
    return data


@pytest.mark.parametrize("value", ["/opt/glmstack/../../etc", "/opt//glmstack", "/opt/glmstack/", "/opt/./glmstack",
                                   "/etc", "/tmp", "/root/.ssh", "/usr", "/var/lib", "/", "/proc/self",
                                   "/home/alice", "/usr/local/bin/glmstack"])
@pytest.mark.parametrize("field", PATH_FIELDS)
def test_every_path_setting_refuses_traversal_and_system_trees(field, value):
    with pytest.raises(HostDataError) as error:
        resolve("h1.invalid", _data(field, value))
    lines = str(error.value).splitlines()
    assert lines == [line for line in lines if line.startswith(f"host h1.invalid: field {field}: ")]
    assert "allowed:" in lines[0] or "should match pattern" in lines[0]


@pytest.mark.parametrize("field", PATH_FIELDS)
@pytest.mark.parametrize("value", ["/opt/glmstack-2", "/srv/glm", "/usr/local/glmstack", "/home/alice/glm",
                                   "/var/lib/glmstack/x", "/data/models"])
def test_every_path_setting_takes_a_directory_of_its_own(field, value):
    assert path_problem(field, value, RULES.paths) is None


def test_only_the_config_dir_may_live_in_etc():
    assert path_problem("base_config_dir", "/etc/glmstack", RULES.paths) is None
    assert path_problem("base_state_dir", "/etc/glmstack", RULES.paths) is not None
    assert path_problem("base_config_dir", "/etc/systemd/glmstack", RULES.paths) is not None


@pytest.mark.parametrize("name,ok", [("eth0", True), ("enp65s0f0np0", True), ("a" * 15, True), ("a" * 16, False),
                                     (".", False), ("..", False), ("eth0:1", False), ("e th", False),
                                     ("ab/c", False), ("", False), ("é" * 8, False)])
def test_interface_names_follow_the_kernels_rules(name, ok):
    assert (interface_problem(name, RULES) is None) == ok


def test_ipv6_addresses_are_bracketed_where_joined_to_a_port():
    assert host_port("2001:db8::1", 5000) == "[2001:db8::1]:5000"
    assert host_port("10.0.0.1", 5000) == "10.0.0.1:5000"
    assert url_host("node-1.lab") == "node-1.lab"


SGLANG = {"accelerator": "h200", "model": "glm-5.2-bf16", "engine": "sglang", "model_revision": "1" * 40,
          "deployment": "bf16", "network_interface": "ib0", "service_bind_host": "127.0.0.1"}


def test_sglang_gets_its_dist_init_addr_bracketed():
    # SGLang's PortArgs takes a leading '[' as an IPv6 address ([addr]:port); unbracketed, its
    # split(":") finds too many parts.
    head, worker = resolve_inventory([("2001:db8::1", SGLANG), ("2001:db8::2", SGLANG)])
    for plan in (head, worker):
        argv = list(plan.serve_argv)
        assert argv[argv.index("--dist-init-addr") + 1] == "[2001:db8::1]:5000"


RAY = {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": "1" * 40,
       "deployment": "bf16", "network_interface": "ib0"}


def test_ray_workers_join_an_ipv6_head_bracketed():
    # Ray parses "[::1]:6379" (its network utils' parse_address).
    plans = resolve_inventory([(f"2001:db8::{n}", RAY) for n in (1, 2, 3)])
    worker = plans[1].ray
    assert "[2001:db8::1]:6379" in worker.args and plans[0].ray.gcs == "[2001:db8::1]:6379"


def test_a_ray_worker_waits_for_an_ipv6_head_by_its_address_without_brackets():
    plans = resolve_inventory([(f"2001:db8::{n}", RAY) for n in (1, 2, 3)])
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # Unquoted as systemd would, against a head on this machine's IPv6 loopback.
        script = ray_head_wait_command(plans[1]).split(" -c ", 1)[1][1:-1]
        script = script.replace('\\"', '"').replace("$$", "$").replace("%%", "%")
        script = script.replace("[2001:db8::1]:6379", f"[::1]:{port}").replace("-ge 150", "-ge 1")
        assert f"[::1]:{port}" in script
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_llama_cpp_rpc_refuses_ipv6_workers():
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "1" * 40,
            "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", "recipe_variant": "rpc",
            "deployment": "rpc"}
    with pytest.raises(InventoryError, match="cannot reach a worker by IPv6 address"):
        resolve_inventory([("2001:db8::1", data), ("2001:db8::2", data)])


def test_the_api_port_may_not_be_a_cluster_port():
    with pytest.raises(InventoryError, match="field port: the API port 29500 is also one of vllm's cluster ports"):
        resolve_inventory([(f"10.0.0.{n}", {**RAY, "model": "glm-5.2-fp8", "recipe_variant": "mp", "port": 29500})
                           for n in (1, 2)])


def test_the_weights_share_port_may_not_be_a_cluster_port():
    with pytest.raises(InventoryError, match="field model_share_port: 6379 is also one of Ray's cluster ports"):
        resolve_inventory([(f"10.0.0.{n}", {**RAY, "model_share_port": 6379}) for n in (1, 2, 3)])


def test_two_ranks_on_one_address_are_refused():
    with pytest.raises(InventoryError, match=r"field address: 10.0.0.1 \(rank 2\) is already"):
        resolve_inventory([("a.invalid", {**RAY, "address": "10.0.0.1"}), ("b.invalid", {**RAY, "address": "10.0.0.2"}),
                           ("c.invalid", {**RAY, "address": "10.0.0.1"})])


def test_the_catalog_refuses_a_limit_for_a_tunable_the_engine_takes_no_argument_for():
    from pydantic import ValidationError

    from glmstack.catalog import Catalog

    data = load_catalog().model_dump()
    data["engines"]["sglang"]["tunable_limits"]["num_speculative_tokens"] = 4
    with pytest.raises(ValidationError, match="engine sglang: tunable_limits names 'num_speculative_tokens'"):
        Catalog.model_validate(data)
    data = load_catalog().model_dump()
    data["host"]["paths"]["denied_trees"].append("etc/")
    with pytest.raises(ValidationError, match="give absolute paths without a trailing slash"):
        Catalog.model_validate(data)
