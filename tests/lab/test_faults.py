"""Deploys killed half-way, then rerun, converge: nothing half-installed, nothing marked ready early."""

from __future__ import annotations

import time

import pytest
import testinfra

from glmstack.config import resolve
from glmstack.drift import check_drift
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_deploy, start_deploy
from glmstack.lab.serve import serve_directory

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def converged_node():
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        node = lab.up(1, paths)[0]
        data = cpu_profile_data(paths)
        inventory = lab.write_inventory(paths, extra_data=data)
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            assert run_deploy(inventory).returncode == 0
        host = testinfra.get_host(f"paramiko://root@{node['address']}", ssh_identity_file=str(paths.ssh_key))
        yield {"paths": paths, "node": node, "data": data, "host": host}
    finally:
        lab.down(paths)


def kill_when(process, condition, timeout: float = 300) -> None:
    """Kill the deploy we started, by its PID, once `condition()` holds on the node."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the deploy ended (rc {process.returncode}) before it could be interrupted")
        if condition():
            process.kill()
            process.wait()
            return
        time.sleep(0.2)
    process.kill()
    process.wait()
    pytest.fail("the moment to interrupt never came")


def test_deploy_killed_during_the_model_download_resumes_and_marks_ready_only_after(converged_node, tmp_path):
    paths, host = converged_node["paths"], converged_node["host"]
    # Same weights into another directory: a fresh download of a model the engine can load.
    data = {**converged_node["data"], "model_dir": "/var/lib/glmstack/models/moved"}
    plan = resolve(converged_node["node"]["address"], data)
    partial = f"{plan.model.entry_path}.partial"
    marker = f"/var/lib/glmstack/models/{plan.config.model}.ready"
    inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / "moved.py")
    full_size = (models_dir(paths) / plan.model.entry).stat().st_size

    with serve_directory(models_dir(paths), port=MODEL_PORT, rate=1_000_000):
        deploy = start_deploy(inventory)
        kill_when(deploy, lambda: host.file(partial).exists and host.file(partial).size > full_size // 4)
    assert not host.file(marker).exists, "weights were marked ready before they were complete"
    left = host.file(partial).size
    assert 0 < left < full_size

    stats: dict = {}
    with serve_directory(models_dir(paths), port=MODEL_PORT, stats=stats):
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    print(f"download resumed: {left} of {full_size} bytes were kept, {stats['bytes_sent']} fetched again")
    assert stats["bytes_sent"] <= full_size - left + 65536
    assert host.file(marker).content_string.strip() == plan.model.fingerprint
    assert host.file(plan.model.entry_path).sha256sum == dict(plan.model.files)[plan.model.entry]
    assert run_deploy(inventory).results["totals"]["success"] == 0


def test_deploy_killed_during_the_build_rebuilds_cleanly(converged_node, tmp_path):
    paths, host = converged_node["paths"], converged_node["host"]
    data = {**converged_node["data"], "llamacpp_cmake_flags": ["-DLLAMA_BUILD_SERVER=ON"]}  # new key, same objects
    plan = resolve(converged_node["node"]["address"], data)
    build = plan.llamacpp
    work = f"{build.prefix}/build/{build.build_key}/build"
    inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / "rebuild.py")

    deploy = start_deploy(inventory)
    kill_when(deploy, lambda: host.file(f"{work}/CMakeCache.txt").exists)
    assert not host.file(f"{build.install_dir}/BUILD-INFO").exists, "an interrupted build looks finished"

    rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert host.file(f"{build.install_dir}/BUILD-INFO").exists
    assert not host.file(f"{build.install_dir}.partial").exists and not host.file(work).exists
    assert host.run(f"{build.install_dir}/bin/llama-server --version").rc == 0
    assert check_drift(inventory).exit_code == 0
