"""Multi-node deployments: the head reaches every worker, and a worker lets in only its head.

Skipped on hosts serving alone. Run with the other infra checks:

    pytest tests/infra --hosts=ssh://root@cpu-1,ssh://root@cpu-2 --glm-inventory=inventory/cpu.py
"""

from __future__ import annotations

import pytest

from glmstack.facts import tcp_answers_command


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
