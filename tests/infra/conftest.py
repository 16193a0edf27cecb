"""testinfra checks of a deployed host, with expectations from the same inventory the deploy used.

    pytest tests/infra --hosts=ssh://root@node1 --glm-inventory=inventory/cpu.py

On a failure, the engine unit's recent journal is attached to the report.
"""

from __future__ import annotations

import pytest

from glmstack.config import DeployPlan, node_units
from glmstack.planning import plan_inventory


def pytest_addoption(parser):
    parser.addoption("--glm-inventory", help="the pyinfra inventory file the hosts were deployed with")


@pytest.fixture(scope="session")
def plans(pytestconfig) -> dict[str, DeployPlan]:
    path = pytestconfig.getoption("glm_inventory")
    if not path:
        pytest.fail("pass --glm-inventory=<inventory file> so the checks know what was deployed")
    return {plan.host: plan for plan in plan_inventory(path)}


@pytest.fixture
def plan(host, plans) -> DeployPlan:
    name = host.backend.hostname
    if name not in plans:
        pytest.fail(f"host {name} is not in the inventory (has: {', '.join(plans)})")
    # The unit the node exists for: the engine, or (on a Ray worker) Ray.
    return node_units(plans[name])[-1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host, plan = item.funcargs.get("host"), item.funcargs.get("plan")
    if host is None or plan is None:
        return
    journal = host.run(f"journalctl -u {plan.unit_name}.service -n 40 --no-pager")
    report.sections.append((f"journal of {plan.unit_name} on {host.backend.hostname}", journal.stdout))
