"""A Ray cluster of three lab nodes, formed by the deploy: the three-node H100 BF16 deployment's
Ray units (head first, each worker on its own address, the deployment's ports closed to anyone
else) from `deploys/ray_cluster.py`, which runs them from an environment holding only the pinned
Ray: the lab has no GPUs, so no vLLM starts on the head. `ray status` on the head lists three
nodes, a second deploy changes nothing, a stopped worker is named by the checks, and once it is
back a rerun converges.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from glmstack.config import ray_environment
from glmstack.lab import lab
from glmstack.lab.profile import infra_checks_output, run_deploy
from glmstack.planning import plan_inventory

pytestmark = pytest.mark.lab

H100_BF16 = {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": "1" * 40,
             "deployment": "ray", "network_interface": "host0"}
RAY_CHECKS = ["-k", "ray or deployments_ports"]


@pytest.fixture(scope="module")
def ray_trio(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        nodes = [node["address"] for node in lab.up(3, paths)]
        inventory = lab.write_inventory(paths, extra_data=H100_BF16,
                                        output=tmp_path_factory.mktemp("ray") / "ray.py")
        first = run_deploy(inventory, deploy="ray_cluster.py")
        yield {"paths": paths, "nodes": nodes, "inventory": inventory, "first": first,
               "hosts": {address: lab.node_connection(address, paths) for address in nodes}}
    finally:
        lab.down(paths)


def ray_status(ray_trio, nodes: int = 3) -> str:
    """`ray status` on the head, once it reports the nodes: its autoscaler's report trails the
    GCS (which the deploy waits on) by a few seconds ("No cluster status" until then)."""
    head = ray_trio["nodes"][0]
    plan = next(plan for plan in plan_inventory(ray_trio["inventory"]) if plan.host == head)
    ray = f"{ray_environment(plan).directory}/bin/ray"
    deadline = time.monotonic() + 60
    while True:
        status = ray_trio["hosts"][head].check_output(f"runuser -u glmstack -- {ray} status --address {head}:6379")
        if active_nodes(status) == nodes or time.monotonic() > deadline:
            return status
        time.sleep(3)


def active_nodes(status: str) -> int:
    active = status.partition("Active:")[2].partition("Pending:")[0]
    return len(re.findall(r"^\s*1 node_[0-9a-f]+", active, flags=re.MULTILINE))


def test_ray_status_on_the_head_lists_the_three_nodes(ray_trio):
    first = ray_trio["first"]
    assert first.returncode == 0, first.stderr[-4000:]
    status = ray_status(ray_trio)
    assert active_nodes(status) == 3, status
    # Each node runs Ray as the service user, on its own address, in the order the deploy started them.
    for address, host in ray_trio["hosts"].items():
        assert host.service("ray.service").is_running
        assert f"--node-ip-address {address} " in host.check_output("systemctl show -p ExecStart --value ray.service")
        assert host.check_output("ps -o user= -C raylet").split() == ["glmstack"]
    # The deployment's ports refuse anyone else: this machine, beside the nodes on the lab network.
    with pytest.raises(OSError):
        socket.create_connection((ray_trio["nodes"][0], 6379), timeout=5).close()
    status, report = infra_checks_output(ray_trio["inventory"], ray_trio["paths"], ray_trio["nodes"], RAY_CHECKS)
    assert status == 0, report[-4000:]


def test_a_second_deploy_changes_nothing(ray_trio):
    assert ray_trio["first"].returncode == 0
    second = run_deploy(ray_trio["inventory"], deploy="ray_cluster.py")
    assert second.returncode == 0 and second.results["totals"]["success"] == 0, second.changed_operations


def test_a_nic_the_nodes_lack_stops_the_deploy_before_any_change(ray_trio, tmp_path):
    assert ray_trio["first"].returncode == 0
    inventory = lab.write_inventory(ray_trio["paths"], extra_data={**H100_BF16, "network_interface": "ib0"},
                                    output=tmp_path / "wrong-nic.py")
    started = {address: host.check_output("systemctl show -p ActiveEnterTimestamp ray.service")
               for address, host in ray_trio["hosts"].items()}
    run = run_deploy(inventory, deploy="ray_cluster.py")
    assert run.returncode != 0
    # pyinfra stops at the first host whose preparation fails: any of the three, each with its own address.
    named = re.search(r"host (\S+): field network_interface: 'ib0' is not an interface of this host; "
                      r"it has: host0 \((\S+)", run.stderr)
    assert named and named[1] in ray_trio["nodes"] and named[2] == named[1], run.stderr[-3000:]
    assert not run.changed_operations
    # Stopped in preflight: the units were neither rewritten nor restarted.
    assert started == {address: host.check_output("systemctl show -p ActiveEnterTimestamp ray.service")
                       for address, host in ray_trio["hosts"].items()}


def test_a_stopped_worker_is_named_and_a_rerun_converges_once_it_is_back(ray_trio):
    assert ray_trio["first"].returncode == 0
    paths, inventory = ray_trio["paths"], ray_trio["inventory"]
    head, worker = ray_trio["nodes"][0], ray_trio["nodes"][2]
    lab.stop_node(worker, paths)
    # The head's GCS declares a node dead after its health checks go unanswered for a while.
    deadline = time.monotonic() + 120
    while True:
        status, report = infra_checks_output(inventory, paths, [head], RAY_CHECKS)
        if status != 0 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert status != 0
    assert f"Ray node {worker} is not in the cluster of {head}:6379" in report, report[-3000:]
    lab.start_node(worker, paths)
    rerun = run_deploy(inventory, deploy="ray_cluster.py")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert active_nodes(ray_status(ray_trio)) == 3
    status, report = infra_checks_output(inventory, paths, ray_trio["nodes"], RAY_CHECKS)
    assert status == 0, report[-4000:]
    again = run_deploy(inventory, deploy="ray_cluster.py")
    assert again.results["totals"]["success"] == 0, again.changed_operations
