"""llama.cpp over RPC workers: who runs what, who holds the weights, who may connect."""

from __future__ import annotations

import subprocess

import pytest
from systemd_parse import parse_units

from glmstack.config import InventoryError, resolve_inventory
from glmstack.render import render_unit

DATA = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "1" * 40,
        "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", "recipe_variant": "rpc",
        "deployment": "rpc"}


@pytest.fixture(scope="module")
def pair():
    return resolve_inventory([("10.0.0.1", DATA), ("10.0.0.2", DATA)])


def test_the_worker_runs_the_rpc_server_on_its_own_address_and_holds_no_weights(pair):
    head, worker = pair
    assert worker.rpc_worker and worker.rpc_head == "10.0.0.1" and worker.unit_name == "llama-rpc"
    assert worker.serve_argv[1:] == ("-H", "10.0.0.2", "-p", "50052")
    assert worker.serve_argv[0].endswith("/bin/ggml-rpc-server")
    assert worker.api_key is None  # no HTTP API to guard
    # Both build the RPC backend; the head alone fetches the weights (nothing is passed on).
    assert "-DGGML_RPC=ON" in head.llamacpp.cmake_flags and head.llamacpp == worker.llamacpp
    assert head.llamacpp.extra_binaries == ("ggml-rpc-server",)
    assert head.weights_peers == () and worker.weights_seed is None


def test_the_head_offloads_to_the_worker_and_waits_for_it_at_each_start(pair):
    head, _ = pair
    argv = " ".join(head.serve_argv)
    assert argv.endswith("--jinja --n-gpu-layers 40 --rpc 10.0.0.2:50052")
    unit = render_unit(head)
    assert unit.index("ExecStartPre=") < unit.index("ExecStart=/")
    assert "RPC worker %%s does not answer" in unit


def test_the_wait_names_the_worker_that_does_not_answer(pair, tmp_path):
    from glmstack.render import NODE_WAIT_SECONDS, rpc_wait_command

    head, _ = pair
    assert NODE_WAIT_SECONDS > 0
    unit = render_unit(head)
    assert rpc_wait_command(head) in unit
    # As systemd reads it (its own parser), against a port nothing listens on, the wait shortened.
    (wait,) = parse_units({"llama-server.service": unit})["llama-server.service"].argv("ExecStartPre")
    assert wait[:2] == ["/bin/bash", "-c"] and "for w in 10.0.0.2:50052;" in wait[2]
    script = wait[2].replace("10.0.0.2:50052", "127.0.0.1:9").replace("-ge 150", "-ge 1")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == "RPC worker 127.0.0.1:9 does not answer\n"


def test_the_worker_unit_lets_in_only_the_head(pair):
    _, worker = pair
    unit = render_unit(worker)
    assert "IPAddressDeny=any\nIPAddressAllow=10.0.0.1 10.0.0.2 localhost\n" in unit
    assert "api-key" not in unit


def test_rpc_nodes_must_be_given_by_ip_address():
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("cpu-1.lab.example", DATA), ("cpu-2.lab.example", DATA)])
    assert "field address: the nodes of a deployment let in each other only, by IP address" in str(error.value)


def test_the_workers_readiness_is_its_port_listening_not_a_connection(pair):
    from roles.service.operations import health_check

    _, worker = pair
    # The RPC server serves one client at a time: while the head is connected, connection probes
    # queue unanswered (seen in the lab: a rerun waited on a full accept queue).
    check, target = health_check(worker)
    assert "/dev/tcp" not in check and "/proc/net/tcp" in check and ":C384" in check
    assert target == "10.0.0.2:50052 (listening)"
