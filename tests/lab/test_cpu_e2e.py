"""End to end on a lab node: deploy the CPU profile, check it with testinfra, deploy again: no change."""

from __future__ import annotations

import pytest

from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_deploy, run_infra_checks
from glmstack.lab.serve import serve_directory

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab_node():
    paths = lab.LabPaths.from_env()
    lab.down(paths)  # a lab left behind by an interrupted run must not leak into this one
    try:
        node = lab.up(1, paths)[0]
        data = cpu_profile_data(paths)
        inventory = lab.write_inventory(paths, extra_data=data)
        yield {"paths": paths, "node": node, "inventory": inventory}
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


def test_engine_restarted_by_systemd_after_a_crash(lab_node, first_deploy):
    assert first_deploy.returncode == 0
    import testinfra

    node = lab_node["node"]
    host = testinfra.get_host(f"paramiko://root@{node['address']}",
                              ssh_identity_file=str(lab_node["paths"].ssh_key))
    before = host.check_output("systemctl show -p MainPID --value llama-server.service")
    host.run_expect([0], f"kill -9 {before}")
    host.run_expect([0], "for i in $(seq 60); do curl -fs -o /dev/null http://127.0.0.1:8080/health "
                         "&& exit 0; sleep 1; done; exit 1")
    after = host.check_output("systemctl show -p MainPID --value llama-server.service")
    assert after not in ("0", before)
