"""llama.cpp across two lab nodes: the head's llama-server puts the test model's layers on the
worker's ggml-rpc-server (the recipe's `rpc` variant), serves it, and a second deploy changes
nothing. With the worker node stopped, the checks name it; started again, a rerun converges.
"""

from __future__ import annotations

import re
import socket

import pytest

from glmstack.lab import lab
from glmstack.lab.profile import (
    MODEL_PORT,
    cpu_profile_data,
    infra_checks_output,
    models_dir,
    run_deploy,
    run_infra_checks,
)
from glmstack.lab.serve import serve_directory

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def rpc_pair(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        head, worker = lab.up(2, paths)
        # -lv 4: llama.cpp's loader then logs each device's share of the weights.
        data = {**cpu_profile_data(paths, gateway=False), "recipe_variant": "rpc", "deployment": "rpc",
                "extra_flags": ["-lv", "4"]}
        inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path_factory.mktemp("rpc") / "rpc.py")
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            first = run_deploy(inventory)
        yield {"paths": paths, "head": head, "worker": worker, "inventory": inventory, "first": first,
               "hosts": {node["address"]: lab.node_connection(node["address"], paths) for node in (head, worker)}}
    finally:
        lab.down(paths)


def established_peers(host, port: int) -> set[str]:
    """The remote IPv4 addresses of established TCP connections to a local port (from /proc/net/tcp)."""
    peers = set()
    for line in host.file("/proc/net/tcp").content_string.splitlines()[1:]:
        local, remote, state = line.split()[1:4]
        if state == "01" and int(local.split(":")[1], 16) == port:
            packed = bytes.fromhex(remote.split(":")[0])[::-1]
            peers.add(".".join(str(byte) for byte in packed))
    return peers


def test_the_head_serves_with_its_layers_on_the_worker(rpc_pair):
    first = rpc_pair["first"]
    assert first.returncode == 0, first.stderr[-4000:]
    head = rpc_pair["hosts"][rpc_pair["head"]["address"]]
    worker = rpc_pair["hosts"][rpc_pair["worker"]["address"]]
    endpoint = f"{rpc_pair['worker']['address']}:50052"
    # The worker runs the RPC server (no engine, no weights); the head reaches it.
    assert worker.service("llama-rpc.service").is_running
    assert not worker.file("/var/lib/glmstack/models/glm-5.2-gguf").exists
    journal = head.check_output("journalctl -u llama-server.service --no-pager -o cat")
    assert f"--rpc {endpoint}" in head.check_output("systemctl show -p ExecStart --value llama-server.service")
    # llama.cpp's loader reports each device's share of the weights: the worker's is not empty.
    shares = re.findall(rf"RPC\d*\[{re.escape(endpoint)}\] model buffer size\s*=\s*([\d.]+) MiB", journal)
    assert shares and float(shares[0]) > 0, journal[-3000:]
    # The worker's side: the head's connection to its RPC server stays open while it serves.
    assert rpc_pair["head"]["address"] in established_peers(worker, 50052)
    # Anyone else is refused: this machine, on the lab network beside the nodes.
    with pytest.raises(OSError):
        socket.create_connection((rpc_pair["worker"]["address"], 50052), timeout=5).close()
    addresses = [rpc_pair["head"]["address"], rpc_pair["worker"]["address"]]
    assert run_infra_checks(rpc_pair["inventory"], rpc_pair["paths"], addresses) == 0


def test_a_second_deploy_changes_nothing(rpc_pair):
    assert rpc_pair["first"].returncode == 0
    second = run_deploy(rpc_pair["inventory"])
    assert second.returncode == 0 and second.results["totals"]["success"] == 0, second.changed_operations


def test_a_stopped_worker_is_named_and_a_rerun_converges_once_it_is_back(rpc_pair):
    assert rpc_pair["first"].returncode == 0
    paths, worker = rpc_pair["paths"], rpc_pair["worker"]["address"]
    lab.stop_node(worker, paths)
    status, report = infra_checks_output(rpc_pair["inventory"], paths, [rpc_pair["head"]["address"]],
                                         ["-k", "rpc_worker"])
    assert status != 0
    assert f"RPC worker {worker}:50052 does not answer {rpc_pair['head']['address']}" in report
    lab.start_node(worker, paths)
    rerun = run_deploy(rpc_pair["inventory"])
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    addresses = [rpc_pair["head"]["address"], worker]
    assert run_infra_checks(rpc_pair["inventory"], paths, addresses) == 0
    again = run_deploy(rpc_pair["inventory"])
    assert again.results["totals"]["success"] == 0, again.changed_operations
