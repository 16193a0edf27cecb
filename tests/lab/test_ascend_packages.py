"""The Ascend package-set orchestration on two real lab nodes (an A2 pair), with STAND-IN installers.

The installers are glmstack.lab.ascend's stand-ins: scripts named like Huawei's that record their
run and leave the version files the real ones leave. They prove the deploy's side only: the
manifest and sums checked before anything runs, the install order (fresh and upgrade), installed
versions read back so a converged node is left alone, the reboot a driver needs, and CANN's
environment captured for the engine. Nothing here says Ascend serving works: there is no NPU.
"""

from __future__ import annotations

import pytest

from glmstack.lab import lab
from glmstack.lab.ascend import LOG, write_package_set
from glmstack.lab.profile import run_deploy, run_infra_checks
from glmstack.lab.serve import serve_directory

pytestmark = pytest.mark.lab
VERSIONS = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}
UPGRADE = {**VERSIONS, "driver": "25.5.2", "firmware": "7.8.0.7.220"}
STAMP = "/var/lib/glmstack/ascend/reboot-pending"
CANN_ENV = "/etc/glmstack/vllm-ascend.cann.env"


@pytest.fixture(scope="module")
def a2_pair(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    root = tmp_path_factory.mktemp("ascend")
    lab.down(paths)
    try:
        nodes = lab.up(2, paths)
        yield {"paths": paths, "nodes": nodes, "root": root,
               "hosts": [lab.node_connection(node["address"], paths) for node in nodes]}
    finally:
        lab.down(paths)


def deploy(pair, name: str, **settings):
    data = {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40,
            "deployment": "a2", "network_interface": "host0", "ascend_roce_netmask": "255.255.255.0", **settings}
    # A multi-node A2 deployment gives its NPUs' RoCE addresses (this deploy does not set them).
    roce = [{"ascend_roce_addresses": [f"198.51.100.{16 * node + npu + 1}" for npu in range(8)]} for node in range(2)]
    inventory = lab.write_inventory(pair["paths"], extra_data=data, output=pair["root"] / f"{name}.py",
                                    host_data=roce)
    return run_deploy(inventory, deploy="ascend_packages.py")


def installer_runs(host) -> list[str]:
    return host.run(f"cat {LOG} 2>/dev/null").stdout.splitlines()


def test_a_corrupted_installer_on_the_mirror_stops_the_run_before_any_installer_runs(a2_pair):
    package_set = a2_pair["root"] / "corrupt"
    manifest = write_package_set(package_set, "ascend-a2", "x86_64", VERSIONS)
    ops = next(package_set.glob("Ascend-cann-910b-ops_*"))
    ops.write_bytes(ops.read_bytes().replace(b"set -eu", b"set -e "))  # same size, other bytes
    with serve_directory(package_set) as url:
        run = deploy(a2_pair, "corrupt", ascend_packages=url, ascend_manifest=str(manifest))
    assert run.returncode != 0
    assert f"{ops.name}: its sha256 is not the manifest's (removed); nothing was installed" in run.stderr
    for host in a2_pair["hosts"]:
        assert installer_runs(host) == []
        assert not host.file("/usr/local/Ascend/driver/version.info").exists


def test_fresh_nodes_get_driver_then_firmware_then_cann_and_wait_for_the_reboot(a2_pair):
    package_set = a2_pair["root"] / "fresh"
    write_package_set(package_set, "ascend-a2", "x86_64", VERSIONS)
    run = deploy(a2_pair, "fresh", ascend_packages=str(package_set))
    # Installed, then stopped: the driver needs a reboot and the host data does not allow one.
    assert run.returncode != 0
    assert "the NPU driver or firmware was installed; a reboot is needed" in run.stderr
    assert "ascend_allow_reboot: true" in run.stderr
    for host in a2_pair["hosts"]:
        assert installer_runs(host) == [
            "driver 25.5.1 --full --install-for-all --quiet", "firmware 7.8.0.6.201 --full --quiet",
            "toolkit 9.1.0 --full --quiet", "ops 9.1.0 --install --quiet", "nnal 9.1.0 --install --quiet"]
        assert host.user("HwHiAiUser").group == "HwHiAiUser"
        assert host.file(STAMP).exists
        assert host.run("ls /var/lib/glmstack/ascend/packages").stdout.strip() == ""  # each removed once in

    # The same boot: still waiting, and nothing installed again.
    again = deploy(a2_pair, "fresh", ascend_packages=str(package_set))
    assert again.returncode != 0 and "a reboot is needed" in again.stderr
    assert all(len(installer_runs(host)) == 5 for host in a2_pair["hosts"])

    for node in a2_pair["nodes"]:
        lab.reboot(node["address"], a2_pair["paths"])
    after = deploy(a2_pair, "fresh", ascend_packages=str(package_set))
    assert after.returncode == 0, after.stderr[-3000:]
    # What the stop left undone, and nothing installed again.
    assert set(after.changed_operations) == {"glmstack ascend | Run the installed NPU driver",
                                             "glmstack ascend | Service user in HwHiAiUser",
                                             "glmstack ascend | CANN environment for the engine"}
    for host in a2_pair["hosts"]:
        assert not host.file(STAMP).exists
        environment = host.file(CANN_ENV).content_string
        # What the set_env scripts export for the engine, captured once; not the rest of a shell.
        assert "ASCEND_TOOLKIT_HOME=/usr/local/Ascend/ascend-toolkit/latest\n" in environment
        assert "ATB_HOME_PATH=/usr/local/Ascend/nnal/atb/latest\n" in environment
        assert "PATH=/usr/local/Ascend/ascend-toolkit/latest/bin:/opt/glmstack/venvs/vllm-ascend-" in environment
        assert "PS1" not in environment
        assert "HwHiAiUser" in host.user("glmstack").groups

    converged = deploy(a2_pair, "fresh", ascend_packages=str(package_set))
    assert converged.returncode == 0 and converged.results["totals"]["success"] == 0, converged.changed_operations
    assert all(len(installer_runs(host)) == 5 for host in a2_pair["hosts"])
    # The Ascend testinfra checks that do not need an NPU, against what the stand-ins left.
    checks = "test_installed_versions or test_no_reboot or test_service_user_is_in or test_cann_environment"
    assert run_infra_checks(a2_pair["root"] / "fresh.py", a2_pair["paths"],
                            [node["address"] for node in a2_pair["nodes"]], ["-k", checks]) == 0


def test_an_upgrade_puts_the_firmware_in_first_and_leaves_cann_alone(a2_pair):
    package_set = a2_pair["root"] / "upgrade"
    write_package_set(package_set, "ascend-a2", "x86_64", UPGRADE)
    before = [installer_runs(host) for host in a2_pair["hosts"]]
    run = deploy(a2_pair, "upgrade", ascend_packages=str(package_set))
    assert run.returncode != 0 and "a reboot is needed" in run.stderr
    for host, earlier in zip(a2_pair["hosts"], before, strict=True):
        assert installer_runs(host)[len(earlier):] == ["firmware 7.8.0.7.220 --upgrade --quiet",
                                                       "driver 25.5.2 --upgrade --quiet"]
    for node in a2_pair["nodes"]:
        lab.reboot(node["address"], a2_pair["paths"])
    assert deploy(a2_pair, "upgrade", ascend_packages=str(package_set)).returncode == 0
    converged = deploy(a2_pair, "upgrade", ascend_packages=str(package_set))
    assert converged.results["totals"]["success"] == 0, converged.changed_operations
