"""Multi-node deployments: the head reaches every worker (RPC) or its Ray cluster has every node,
and the deployment's ports let in only its nodes.

Skipped on hosts serving alone. Run with the other infra checks:

    pytest tests/infra --hosts=ssh://root@cpu-1,ssh://root@cpu-2 --glm-inventory=inventory/cpu.py
"""

from __future__ import annotations

import posixpath
import re
import shlex

import pytest

from glmstack.facts import tcp_answers_command
from roles.service.render import cluster_firewall_table, render_cluster_firewall, unit_paths
from roles.service.units import node_unit_specs, ray_nodes_command


@pytest.fixture
def multinode(plan):
    if plan.nodes < 2:
        pytest.skip(f"{plan.host} serves alone")
    return plan


def test_the_head_reaches_every_rpc_worker(host, multinode):
    if not multinode.rpc_workers:
        pytest.skip(f"{multinode.host} has no RPC workers")
    silent = [worker for worker in multinode.rpc_workers
              if host.run(tcp_answers_command(*worker.rsplit(":", 1))).rc != 0]
    assert not silent, f"RPC worker {', '.join(silent)} does not answer {multinode.host}"


def test_an_rpc_worker_lets_in_only_its_head(host, multinode):
    if not multinode.rpc_worker:
        pytest.skip(f"{multinode.host} is not an RPC worker")
    show = host.check_output(f"systemctl show -p IPAddressDeny -p IPAddressAllow {multinode.unit_name}.service")
    settings = dict(line.split("=", 1) for line in show.splitlines())
    assert set(settings["IPAddressDeny"].split()) == {"0.0.0.0/0", "::/0"}, show
    allowed = set(settings["IPAddressAllow"].split())
    assert f"{multinode.rpc_head}/32" in allowed and allowed <= {f"{multinode.rpc_head}/32", "127.0.0.0/8",
                                                                 "::1/128", f"{multinode.listen_address}/32"}, show


@pytest.fixture
def ray_node(multinode):
    if multinode.ray is None:
        pytest.skip(f"{multinode.host} runs no Ray cluster")
    return multinode


def test_the_ray_node_runs_ray_on_its_own_address(host, ray_node):
    unit = host.service(f"{ray_node.ray.unit_name}.service")
    assert unit.is_running and unit.is_enabled
    start = host.check_output(f"systemctl show -p ExecStart --value {ray_node.ray.unit_name}.service")
    assert f"--node-ip-address {ray_node.node_address} " in start, start


def test_the_ray_cluster_has_every_node(host, ray_node):
    if ray_node.rank != 0:
        pytest.skip(f"{ray_node.host} is a Ray worker; the head is asked")
    # The check the deploy installs, with the Python of the environment Ray runs from.
    start = host.check_output(f"systemctl show -p ExecStart --value {ray_node.ray.unit_name}.service")
    ray_binary = start.split("argv[]=", 1)[1].split()[0]
    python = posixpath.join(posixpath.dirname(ray_binary), "python")
    check = host.run(" ".join(shlex.quote(word) for word in ray_nodes_command(ray_node, python)))
    assert check.rc == 0, f"{ray_node.host}: {check.stdout.strip() or check.stderr.strip()}"


def test_the_deployments_ports_let_in_only_its_nodes(host, multinode):
    units = [unit for unit in node_unit_specs(multinode) if unit.firewall]  # the engine's, Ray's
    if not units:
        pytest.skip(f"{multinode.host} listens on no port of the deployment")
    for unit in units:
        # The rules the deploy installs are the ones rendered from the inventory, and they are loaded
        # (nft prints the addresses merged into ranges, so the file is what names each node).
        installed = host.file(unit_paths(unit)["firewall"]).content_string
        assert installed == render_cluster_firewall(unit), unit.name
        loaded = host.check_output(f"nft list table inet {cluster_firewall_table(unit)}")
        assert re.search(r"tcp dport (\{[^}]*\}|\d+) drop", loaded), loaded
