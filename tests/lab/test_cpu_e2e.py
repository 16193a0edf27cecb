"""End to end on a lab node: deploy the CPU profile, check it with testinfra, deploy again: no change."""

from __future__ import annotations

import re

import pytest

from glmstack.config import resolve
from glmstack.drift import check_drift
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_deploy, run_infra_checks
from glmstack.lab.serve import serve_directory
from glmstack.render import render_unit, unit_paths

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab_node():
    paths = lab.LabPaths.from_env()
    lab.down(paths)  # a lab left behind by an interrupted run must not leak into this one
    try:
        node = lab.up(1, paths)[0]
        data = cpu_profile_data(paths)
        inventory = lab.write_inventory(paths, extra_data=data)
        yield {"paths": paths, "node": node, "inventory": inventory, "data": data}
    finally:
        lab.down(paths)


@pytest.fixture(scope="module")
def first_deploy(lab_node):
    with serve_directory(models_dir(lab_node["paths"]), port=MODEL_PORT):
        return run_deploy(lab_node["inventory"])


def test_first_deploy_succeeds(first_deploy):
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    assert not first_deploy.failed_operations
    changed = first_deploy.changed_operations
    for step in ("glmstack llama.cpp | Build llama-server", "glmstack model | Fetch and verify glm-5.2-gguf",
                 "glmstack service | Run llama-server"):
        assert any(name.startswith(step) for name in changed), f"{step} did not run: {changed}"


def test_testinfra_checks_pass(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    node = lab_node["node"]
    assert run_infra_checks(lab_node["inventory"], lab_node["paths"], [node["address"]]) == 0


def test_second_deploy_changes_nothing(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    # No model server this time: a converged node must not need to fetch anything.
    second = run_deploy(lab_node["inventory"])
    assert second.returncode == 0, second.stderr[-4000:]
    assert second.results["totals"]["success"] == 0, f"changed on rerun: {second.changed_operations}"
    assert second.results["totals"]["no_change"] > 0


def node_host(lab_node):
    return lab.node_connection(lab_node["node"]["address"], lab_node["paths"])


def test_engine_restarted_by_systemd_after_a_crash(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    plan = resolve(lab_node["node"]["address"], lab_node["data"])
    unit = f"{plan.unit_name}.service"
    before = host.check_output(f"systemctl show -p MainPID --value {unit}")
    host.run_expect([0], f"kill -9 {before}")
    host.run_expect([0], f"for i in $(seq 60); do curl -fs -o /dev/null {plan.health_url} "
                         "&& exit 0; sleep 1; done; exit 1")
    after = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert after not in ("0", before)


def test_rerun_completes_a_run_interrupted_before_its_restart(lab_node, first_deploy, tmp_path):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    renamed = {**lab_node["data"], "served_model_name": "glm-5.2-renamed"}
    plan = resolve(lab_node["node"]["address"], renamed)
    # What a run killed between writing the unit and restarting leaves: new unit, old engine.
    host.run_expect([0], f"cat > {unit_paths(plan)['unit']} <<'UNIT'\n{render_unit(plan)}UNIT")
    inventory = lab.write_inventory(lab_node["paths"], extra_data=renamed, output=tmp_path / "renamed.py")

    rerun = run_deploy(inventory)

    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "glmstack service | Engine unit" not in rerun.changed_operations  # already on disk
    assert "glmstack service | Run llama-server" in rerun.changed_operations
    served = host.check_output(f"curl -fsS http://127.0.0.1:{plan.port}/v1/models")
    assert '"id":"glm-5.2-renamed"' in served.replace(" ", "")


def test_engine_unit_exposure_is_low(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    host = node_host(lab_node)
    report = host.check_output("systemd-analyze security llama-server.service --no-pager")
    score = float(re.search(r"Overall exposure level for llama-server.service: ([\d.]+)", report).group(1))
    print(f"systemd-analyze security llama-server.service: {score}")
    assert score <= 3.0, report


def test_drift_check_is_quiet_on_a_converged_node_and_precise_on_a_drifted_one(lab_node, first_deploy, tmp_path):
    assert first_deploy.returncode == 0
    assert run_deploy(lab_node["inventory"]).returncode == 0  # earlier tests may have changed the node
    converged = check_drift(lab_node["inventory"])
    assert converged.exit_code == 0, converged.as_dict()
    assert [host.status for host in converged.hosts] == ["converged"]

    node = lab_node["node"]["address"]
    node_host(lab_node).run_expect([0], "echo 'TAMPERED=1' >> /etc/glmstack/llama-server.env")
    hosts = lab.inventory_hosts(lab_node["paths"], lab_node["data"])
    silent = "10.213.0.99"  # inside the lab's own subnet, where no node answers
    inventory = tmp_path / "with-a-silent-host.py"
    inventory.write_text("from glmstack.inventory import group\n"
                         f"nodes = group({[hosts[0], (silent, hosts[0][1])]!r})\n")

    drifted = check_drift(inventory)

    assert drifted.exit_code == 1
    by_host = {host.host: host for host in drifted.hosts}
    assert by_host[silent].status == "unreachable" and not by_host[silent].changes
    assert by_host[node].status == "drift"
    changes = {change["operation"]: change["would_run"] for change in by_host[node].changes}
    assert changes["glmstack service | Engine environment file"] == "upload /etc/glmstack/llama-server.env"
    assert "TAMPERED" not in str(drifted.as_dict())

    assert run_deploy(lab_node["inventory"]).returncode == 0
    assert check_drift(lab_node["inventory"]).exit_code == 0
