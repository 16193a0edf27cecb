"""testinfra checks of a deployed host, with expectations from the same inventory the deploy used.

    pytest tests/infra --hosts=ssh://root@node1 --glm-inventory=inventory/cpu.py

On a failure, the engine unit's recent journal is attached to the report.
"""

from __future__ import annotations

import pytest

from glmstack.config import DeployPlan
from glmstack.planning import inventory_hosts, plan_inventory
from roles.service.units import UnitSpec, node_unit_specs


def pytest_addoption(parser):
    parser.addoption("--glm-inventory", help="the pyinfra inventory file the hosts were deployed with")


@pytest.fixture(scope="session")
def plans(pytestconfig) -> dict[str, DeployPlan]:
    path = pytestconfig.getoption("glm_inventory")
    if not path:
        pytest.fail("pass --glm-inventory=<inventory file> so the checks know what was deployed")
    return {plan.host: plan for plan in plan_inventory(path)}


@pytest.fixture(scope="session")
def names_by_address(pytestconfig) -> dict[str, str]:
    """Inventory names by the address SSH reaches them on, where they differ (an Ansible inventory's
    ansible_host, pyinfra's ssh_hostname)."""
    hosts = inventory_hosts(pytestconfig.getoption("glm_inventory"))
    return {data["ssh_hostname"]: name for name, data in hosts if isinstance(data.get("ssh_hostname"), str)}


@pytest.fixture
def plan(host, plans, names_by_address) -> DeployPlan:
    """The host's deployment plan (found by inventory name, or by the address SSH reaches it on)."""
    name = host.backend.hostname
    name = name if name in plans else names_by_address.get(name, name)
    if name not in plans:
        pytest.fail(f"host {name} is not in the inventory (has: {', '.join(plans)})")
    return plans[name]


def node_unit(plan: DeployPlan) -> UnitSpec:
    """The unit the node exists for: the engine (or an RPC worker's server), or (on a Ray worker) Ray."""
    return node_unit_specs(plan)[-1]


@pytest.fixture
def unit(plan) -> UnitSpec:
    return node_unit(plan)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host, plan = item.funcargs.get("host"), item.funcargs.get("plan")
    if host is None or plan is None:
        return
    name = node_unit(plan).name
    journal = host.run(f"journalctl -u {name}.service -n 40 --no-pager")
    report.sections.append((f"journal of {name} on {host.backend.hostname}", journal.stdout))
