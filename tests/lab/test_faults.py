"""Deploys killed half-way, then rerun, converge: nothing half-installed, nothing marked ready early."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

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
        data = cpu_profile_data(paths, gateway=False)
        inventory = lab.write_inventory(paths, extra_data=data)
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            assert run_deploy(inventory).returncode == 0
        host = lab.node_connection(node["address"], paths)
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


def kill_process_tree(pid: str) -> str:
    """A shell line that freezes a process and its descendants, parents first, then kills them all:
    killed one by one, a parent could notice a child's death and end or start another first."""
    return ('stop_tree() { kill -STOP "$1" 2>/dev/null || return 0; echo "$1"; '
            'for child in $(pgrep -P "$1"); do stop_tree "$child"; done; }; '
            f'pids=$(stop_tree {pid}); [ -n "$pids" ] && kill -KILL $pids')


@contextmanager
def interrupted_download(converged_node, tmp_path, name: str):
    """Start a slowed-down fetch of the same weights into a new directory; kill the deploy a
    quarter of the way in. Yields the plan, the inventory and the size of the weights while the
    slow mirror is still up (so a fetch the deploy left running can go on)."""
    paths, host = converged_node["paths"], converged_node["host"]
    data = {**converged_node["data"], "model_dir": f"/var/lib/glmstack/models/{name}"}
    plan = resolve(converged_node["node"]["address"], data)
    partial = f"{plan.model.entry_path}.partial"
    inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / f"{name}.py")
    full_size = (models_dir(paths) / plan.model.entry).stat().st_size
    with serve_directory(models_dir(paths), port=MODEL_PORT, rate=1_000_000):
        deploy = start_deploy(inventory)
        kill_when(deploy, lambda: host.file(partial).exists and host.file(partial).size > full_size // 4)
        assert not host.file(f"/var/lib/glmstack/models/{plan.config.model}.ready").exists, \
            "weights were marked ready before they were complete"
        yield plan, inventory, full_size


def assert_weights_ready(host, plan) -> None:
    marker = f"/var/lib/glmstack/models/{plan.config.model}.ready"
    assert host.file(marker).content_string.strip() == plan.model.fingerprint
    assert host.file(plan.model.entry_path).sha256sum == dict(plan.model.files)[plan.model.entry]


def test_rerun_waits_for_the_fetch_a_killed_deploy_left_running(converged_node, tmp_path):
    host = converged_node["host"]
    # The deploy is gone, but its fetch goes on (no terminal, so no hangup) and holds the lock.
    with interrupted_download(converged_node, tmp_path, "orphaned") as (plan, inventory, _):
        lock = f"/var/lib/glmstack/models/{plan.config.model}.ready.lock"
        assert host.run(f"kill -0 $(cat {lock})").rc == 0, "the interrupted fetch is not running"
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_weights_ready(host, plan)
    assert run_deploy(inventory).results["totals"]["success"] == 0


def test_rerun_resumes_a_download_whose_process_died(converged_node, tmp_path):
    host = converged_node["host"]
    with interrupted_download(converged_node, tmp_path, "resumed") as (plan, inventory, full_size):
        # As if the host lost the process too: end the fetch we started, from the PID it recorded.
        lock = f"/var/lib/glmstack/models/{plan.config.model}.ready.lock"
        killed = host.run(kill_process_tree(f"$(cat {lock})"))
        assert killed.rc == 0, f"the fetch was no longer running to be killed: {killed.stderr}"
    time.sleep(1)
    left = host.file(f"{plan.model.entry_path}.partial").size
    assert 0 < left < full_size

    stats: dict = {}
    with serve_directory(models_dir(converged_node["paths"]), port=MODEL_PORT, stats=stats):
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    print(f"download resumed: {left} of {full_size} bytes were kept, {stats['bytes_sent']} fetched again")
    assert stats["bytes_sent"] == full_size - left
    assert_weights_ready(host, plan)
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


def test_deploy_killed_during_a_package_install_converges(converged_node, tmp_path):
    paths, host = converged_node["paths"], converged_node["host"]
    # A package with thousands of files, so dpkg is caught at work; not on the node yet.
    package, its_family = "golang-1.19-go", "golang-1.19*"
    data = {**converged_node["data"], "base_packages": [package]}
    inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / "packages.py")

    # Catch dpkg in the middle of this package: freeze it, look, and let it go on if it is not.
    caught_mid_install = (
        "p=$(pidof dpkg) || exit 1; kill -STOP $p; "
        f"if dpkg-query -W -f='${{db:Status-Status}}\\n' '{its_family}' 2>/dev/null "
        "| grep -qE 'half-installed|unpacked|half-configured'; then exit 0; fi; kill -CONT $p; exit 1")
    deploy = start_deploy(inventory)
    kill_when(deploy, lambda: host.run(caught_mid_install).rc == 0)
    # As if the host lost the package run too: end apt and dpkg there (our deploy's, by name on
    # this lab node, which runs nothing else), leaving dpkg's work cut off.
    host.run("kill -KILL $(pidof apt-get dpkg) 2>/dev/null; true")
    time.sleep(1)
    left = host.run("ls -A /var/lib/dpkg/updates; dpkg --audit").stdout.strip()
    print(f"dpkg left behind: {left[:300]!r}")
    assert left, "the kill did not cut dpkg off: nothing to recover"

    rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert host.package(package).is_installed
    assert host.run("dpkg --audit").stdout.strip() == ""
    assert run_deploy(inventory).results["totals"]["success"] == 0


def test_node_rebooted_mid_deploy_converges_on_rerun(converged_node, tmp_path):
    paths, host = converged_node["paths"], converged_node["host"]
    data = {**converged_node["data"], "llamacpp_cmake_flags": ["-DLLAMA_BUILD_TESTS=OFF"]}  # a rebuild
    plan = resolve(converged_node["node"]["address"], data)
    build = plan.llamacpp
    inventory = lab.write_inventory(paths, extra_data=data, output=tmp_path / "reboot.py")

    deploy = start_deploy(inventory)
    deadline = time.monotonic() + 300
    while not host.file(f"{build.prefix}/build/{build.build_key}/build/CMakeCache.txt").exists:
        assert time.monotonic() < deadline and deploy.poll() is None, "the build never started"
        time.sleep(0.2)
    lab.reboot(converged_node["node"]["address"], paths)
    assert deploy.wait(timeout=120) != 0, "the deploy did not notice its host went away"
    host = lab.node_connection(converged_node["node"]["address"], paths)
    assert not host.file(f"{build.install_dir}/BUILD-INFO").exists, "an interrupted build looks finished"
    # The operator reruns once the machine is up (boot finished: network online, units started).
    host.run("systemctl is-system-running --wait")

    rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert host.run(f"{build.install_dir}/bin/llama-server --version").rc == 0
    assert host.service(f"{plan.unit_name}.service").is_running
    again = run_deploy(inventory)
    assert again.changed_operations == [], again.changed_operations
