"""Plan tests: what deploys/glm52.py does on Huawei Ascend hosts, state by state.

The hosts are built by gpu_states.AscendHost (the captured Debian 12 lab node underneath, Ascend
answers constructed in the facts' own formats): no Ascend machine was captured. The package sets
are glmstack.lab.ascend's stand-ins, made at test time; only their names, versions and sums matter
here.
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy, run_deploy_on
from gpu_states import BOOT_ID, AscendHost

from glmstack.config import InventoryError, resolve, resolve_inventory
from glmstack.lab.ascend import write_package_set
from glmstack.render import render_unit

VERSIONS = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}
OLD = {"driver": "25.2.0", "firmware": "7.7.0.6.201"}
REBOOT = "( sleep 1 && reboot )"
HCCN_TOOL = "/usr/local/Ascend/driver/tools/hccn_tool"
# Two Atlas 800 A2 nodes of one deployment: each one's address, and its 8 NPUs' RoCE addresses.
A2_NODES = {"@fake/a2-1": ("10.0.0.1", [f"198.51.100.{11 + npu}" for npu in range(8)]),
            "@fake/a2-2": ("10.0.0.2", [f"198.51.100.{21 + npu}" for npu in range(8)])}


@pytest.fixture(autouse=True)
def no_reboot_wait(monkeypatch):
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(server_ops, "sleep", lambda seconds: None)


@pytest.fixture(scope="module")
def a3_set(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ascend-a3-set")
    write_package_set(directory, "ascend-a3", "aarch64", VERSIONS)
    return directory


def a3_data(package_set, **settings) -> dict:
    return {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
            "model_revision": "0" * 40, "ascend_packages": str(package_set), **settings}


def deploy(data: dict, state: AscendHost, **kwargs):
    return run_deploy(data, state.responses(), **kwargs)


def deploy_with_reboot(data: dict, before: AscendHost, after: AscendHost):
    """The host answers from `after` once it rebooted (a new uptime, a new boot id)."""
    before.answer("/proc/uptime", ["86400"])
    after.answer("/proc/uptime", ["30"]).answer("cat /proc/sys/kernel/random/boot_id", ["0b5e-after-the-reboot"])
    return run_deploy(data, before.responses(), after=(REBOOT, after.responses()))


def installer(component: str) -> str:
    return f"Install {component} {VERSIONS[component]}"


def test_fresh_a3_installs_user_driver_firmware_then_cann_checked_first_then_reboots(a3_set):
    data = a3_data(a3_set, ascend_allow_reboot=True)
    run = deploy_with_reboot(data, AscendHost(data), AscendHost(data).versions(**VERSIONS))
    plan = resolve("@fake/node1", data)
    driver, firmware, toolkit, ops, nnal = plan.ascend.packages
    run.assert_in_order([
        "useradd -d /home/HwHiAiUser -s /bin/bash -g HwHiAiUser",  # before any installer, as they need
        f"sha256sum < /var/lib/glmstack/ascend/packages/{nnal.file}",  # every installer checked ...
        f"/var/lib/glmstack/ascend/packages/{driver.file} --full --install-for-all --quiet",  # ... before one runs
        f"/var/lib/glmstack/ascend/packages/{firmware.file} --full --quiet",
        f"/var/lib/glmstack/ascend/packages/{toolkit.file} --full --quiet",
        f"/var/lib/glmstack/ascend/packages/{ops.file} --install --quiet",
        f"/var/lib/glmstack/ascend/packages/{nnal.file} --install --quiet",
        "cat /proc/sys/kernel/random/boot_id > /var/lib/glmstack/ascend/reboot-pending",
        REBOOT,
        "rm -f /var/lib/glmstack/ascend/reboot-pending && npu-smi info",
        "uv venv --quiet --python python3 /opt/glmstack/venvs/vllm-ascend-0.23.0-",
        "systemctl start vllm-ascend.service",
    ])
    names = [f"glmstack ascend | Upload {p.file}" for p in plan.ascend.packages]
    assert all(name in run.changed for name in names)
    # The A3 operator package, by the name it has had since CANN 8.5.
    assert ops.file == "Ascend-cann-A3-ops_9.1.0_linux-aarch64.run"
    # Each installer is followed by a check of the version it left.
    install = next(c for c in run.commands if driver.file + " --full" in c)
    assert "echo driver=" in install and "expected 25.5.1" in install


def test_fresh_engine_is_one_set_from_the_versioning_table_with_cann_sourced_for_its_checks(a3_set):
    data = a3_data(a3_set, ascend_allow_reboot=True)
    run = deploy_with_reboot(data, AscendHost(data), AscendHost(data).versions(**VERSIONS))
    install = next(c for c in run.commands if "uv venv --quiet --python python3 /opt/glmstack/venvs/vllm-ascend" in c)
    assert ("vllm==0.23.0 vllm-ascend==0.23.0 torch==2.10.0 torch-npu==2.10.0.post4 triton-ascend==3.2.2"
            in install)
    assert install.index("/usr/local/Ascend/nnal/atb/set_env.sh") < install.index("import torch_npu")
    capture = next(c for c in run.commands if "env -i PATH=" in c and "vllm-ascend.cann.env.new" in c)
    assert "/usr/local/Ascend/ascend-toolkit/set_env.sh /usr/local/Ascend/cann/set_env.sh" in capture
    # The unit reads that captured environment after its own file (whose PATH it extends), and
    # runs no set_env script at start.
    unit = render_unit(resolve("@fake/node1", data))
    assert unit.index("EnvironmentFile=/etc/glmstack/vllm-ascend.env") < unit.index(
        "EnvironmentFile=/etc/glmstack/vllm-ascend.cann.env")
    assert "set_env" not in unit.split("ExecStart=")[1]


def test_without_reboot_allowed_the_deploy_stops_after_the_install_and_says_so(a3_set):
    data = a3_data(a3_set)
    run = deploy(data, AscendHost(data).answer("a reboot is needed", [], success=False), allow_failure=True)
    assert run.failed == ["glmstack ascend | Run the installed NPU driver"]
    stop = next(c for c in run.commands if "a reboot is needed" in c)
    assert "ascend_allow_reboot: true" in stop
    assert not run.ran(REBOOT) and not run.ran("uv venv")


def test_converged_a3_changes_nothing(a3_set):
    data = a3_data(a3_set)
    run = deploy(data, AscendHost(data).converged())
    assert run.changed == []
    assert "glmstack ascend | Install driver 25.5.1 (fresh)" not in run.unchanged  # not even planned
    assert not run.ran("sha256sum <")


def test_upgrade_puts_the_firmware_in_before_the_driver(a3_set):
    data = a3_data(a3_set, ascend_allow_reboot=True)
    state = AscendHost(data).converged().versions(**{**VERSIONS, **OLD})
    run = deploy_with_reboot(data, state, AscendHost(data).converged())
    plan = resolve("@fake/node1", data)
    driver, firmware = plan.ascend.packages[:2]
    run.assert_in_order([f"{firmware.file} --upgrade --quiet", f"{driver.file} --upgrade --quiet", REBOOT])
    # Only what differs: CANN is at the set's version already.
    assert not any(p.file in c for p in plan.ascend.packages[2:] for c in run.commands)


def test_cann_upgrade_alone_needs_no_reboot_and_rewrites_the_engine_environment(a3_set):
    data = a3_data(a3_set)
    state = AscendHost(data).converged().versions(**{**VERSIONS, "toolkit": "9.0.0", "ops": "9.0.0",
                                                     "nnal": "9.0.0"})
    run = deploy(data, state)
    assert run.changed[-3:] == ["glmstack ascend | Install nnal 9.1.0 (upgrade)",
                                "glmstack ascend | CANN environment for the engine",
                                "glmstack service | Restart vllm-ascend in turn, ready before the next"]
    assert "glmstack ascend | Run the installed NPU driver" in run.unchanged


def test_reboot_pending_from_an_earlier_run_stops_again_until_the_host_rebooted(a3_set):
    data = a3_data(a3_set)
    pending = AscendHost(data).converged().reboot_pending(BOOT_ID).answer("a reboot is needed", [], success=False)
    run = deploy(data, pending, allow_failure=True)
    assert run.failed == ["glmstack ascend | Run the installed NPU driver"]
    rebooted = AscendHost(data).converged().reboot_pending("0b5e-another-boot")
    run = deploy(data, rebooted)
    assert run.changed == ["glmstack ascend | Run the installed NPU driver"]
    assert run.ran("rm -f /var/lib/glmstack/ascend/reboot-pending && npu-smi info")


def test_two_a2_nodes_each_install_the_set_and_split_head_and_headless_worker(tmp_path):
    write_package_set(tmp_path, "ascend-a2", "aarch64", VERSIONS)
    group = {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40,
             "ascend_packages": str(tmp_path), "deployment": "glm", "network_interface": "eth0",
             "ascend_roce_netmask": "255.255.255.0"}
    (_, one), (_, two) = A2_NODES.values()
    head, worker = resolve_inventory([("a2-1", {**group, "address": "10.0.0.1", "ascend_roce_addresses": one}),
                                      ("a2-2", {**group, "address": "10.0.0.2", "ascend_roce_addresses": two})])
    assert "--headless" not in head.serve_argv and "--headless" in worker.serve_argv
    assert worker.serve_argv[worker.serve_argv.index("--data-parallel-address") + 1] == "10.0.0.1"
    for plan in (head, worker):
        assert plan.ascend.roce_netmask == "255.255.255.0"
        assert [p.file for p in plan.ascend.packages] == [
            "Ascend-hdk-910b-npu-driver_25.5.1_linux-aarch64.run", "Ascend-hdk-910b-npu-firmware_7.8.0.6.201.run",
            "Ascend-cann-toolkit_9.1.0_linux-aarch64.run", "Ascend-cann-910b-ops_9.1.0_linux-aarch64.run",
            "Ascend-cann-nnal_9.1.0_linux-aarch64.run"]
        # Multi-node: HCCL and the collective NIC, per node (the tutorial's variables).
        assert plan.serve_env["HCCL_SOCKET_IFNAME"] == "eth0" and "VLLM_ASCEND_ENABLE_FUSED_MC2" not in plan.serve_env
    assert head.serve_env["HCCL_IF_IP"] == "10.0.0.1" and worker.serve_env["HCCL_IF_IP"] == "10.0.0.2"


def test_a_corrupted_installer_is_refused_before_any_host_is_touched(tmp_path):
    write_package_set(tmp_path, "ascend-a3", "aarch64", VERSIONS)
    toolkit = next(tmp_path.glob("Ascend-cann-toolkit_*"))
    toolkit.write_bytes(toolkit.read_bytes() + b"\n# changed\n")
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("a3-1", a3_data(tmp_path))])
    assert str(error.value) == (f"host a3-1: field ascend_packages: {toolkit.name}: its sha256 is not the "
                                "manifest's (a corrupted or different file); nothing was installed")


def test_a_package_set_from_a_mirror_is_checked_on_the_host_before_any_installer_runs(a3_set):
    data = a3_data("http://mirror.lab.example/ascend", ascend_manifest=str(a3_set / "manifest.yaml"),
                   ascend_allow_reboot=True)
    run = deploy_with_reboot(data, AscendHost(data), AscendHost(data).versions(**VERSIONS))
    run.assert_in_order(["http://mirror.lab.example/ascend/Atlas-A3-hdk-npu-driver_25.5.1_linux-aarch64.run",
                         "http://mirror.lab.example/ascend/Ascend-cann-nnal_9.1.0_linux-aarch64.run",
                         "sha256sum <", "--full --install-for-all --quiet"])


# -- the NPUs' RoCE ports (hccn_tool) on a pair of A2 nodes --

@pytest.fixture(scope="module")
def a2_set(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ascend-a2-set")
    write_package_set(directory, "ascend-a2", "aarch64", VERSIONS)
    return directory


def a2_pair(package_set, state) -> list[tuple[str, dict, AscendHost]]:
    """The two A2 nodes, each as `state(AscendHost)` leaves it, with its collective NIC."""
    group = {"accelerator": "ascend-a2", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40,
             "ascend_packages": str(package_set), "deployment": "glm52-a2", "network_interface": "eth0",
             "ascend_roce_netmask": "255.255.255.0", "ascend_allow_reboot": True, "gateway_enabled": False}
    hosts = [(name, {**group, "address": address, "ascend_roce_addresses": roce})
             for name, (address, roce) in A2_NODES.items()]
    plans = {plan.host: plan for plan in resolve_inventory(hosts)}
    return [(name, data, state(AscendHost(data, plan=plans[name]))
             .answer("for d in /sys/class/net/*", ["lo 127.0.0.1", f"eth0 {data['address']}"]))
            for name, data in hosts]


def deploy_pair(nodes: list[tuple[str, dict, AscendHost]], **kwargs):
    return run_deploy_on([(name, data, state.responses()) for name, data, state in nodes], **kwargs)


def roce_set(npu: int, address: str) -> str:
    return f"{HCCN_TOOL} -i {npu} -ip -s address {address} netmask 255.255.255.0 && "


def test_fresh_a2_pair_sets_every_npu_address_in_order_after_the_driver_and_before_the_engine(a2_set):
    nodes = a2_pair(a2_set, lambda state: state.answer("/proc/uptime", ["86400"]))
    # Once rebooted, the nodes answer alike (their installers at the set's versions, a new boot).
    _, _, rebooted = a2_pair(a2_set, lambda state: state.versions(**VERSIONS).answer("/proc/uptime", ["30"])
                             .answer("cat /proc/sys/kernel/random/boot_id", ["0b5e-after-the-reboot"]))[0]
    runs, _ = deploy_pair(nodes, after=(REBOOT, rebooted.responses()))
    for name, (_, roce) in A2_NODES.items():
        run = runs[name]
        run.assert_in_order(["rm -f /var/lib/glmstack/ascend/reboot-pending && npu-smi info",  # the driver runs
                             *(roce_set(npu, address) for npu, address in enumerate(roce)),
                             "uv venv --quiet --python python3 /opt/glmstack/venvs/vllm-ascend-0.23.0-",
                             "systemctl start vllm-ascend.service"])
        # Each is read back before the next: a port that did not take its address stops the run.
        command = next(c for c in run.commands if roce_set(7, roce[7]) in c)
        assert f"{HCCN_TOOL} -i 7 -ip -g | grep -Eq" in command and "did not give its RoCE port" in command
        assert "glmstack ascend | NPU RoCE addresses (hccn_tool)" in run.changed


def test_converged_a2_pair_changes_nothing(a2_set):
    runs, timeline = deploy_pair(a2_pair(a2_set, lambda state: state.converged()))
    for run in runs.values():
        assert run.changed == []
        assert "glmstack ascend | NPU RoCE addresses (hccn_tool)" in run.unchanged
    assert not any(" -ip -s " in command for _, command in timeline)


def test_one_npu_address_differing_sets_only_that_one(a2_set):
    worker = "@fake/a2-2"
    _, roce = A2_NODES[worker]

    def state(host: AscendHost) -> AscendHost:
        host.converged()
        return host.roce(*roce[:5], "198.51.100.99", *roce[6:]) if host.plan.host == worker else host

    runs, timeline = deploy_pair(a2_pair(a2_set, state))
    sets = [(name, command) for name, command in timeline if " -ip -s " in command]
    assert len(sets) == 1 and sets[0][0] == worker and sets[0][1].startswith(roce_set(5, roce[5]))
    # The running engine's HCCL links used the old address: it restarts, on that node alone.
    assert runs[worker].changed == ["glmstack ascend | NPU RoCE addresses (hccn_tool)",
                                    "glmstack service | Restart vllm-ascend in turn, ready before the next"]
    assert runs["@fake/a2-1"].changed == []
