"""Plan tests: every OS package a deploy installs is one its bundle carries.

Each shipped inventory (inventory/*.py) and the lab's CPU profile is deployed to fresh @fake hosts
(tests/plan/fakehost.py, the hosts of gpu_states.py) with pyinfra's apt and dnf operations
recorded; every package name they are given must be in what `glmstack bundle` carries for that
host: glmstack.os_packages.bundle_packages (the distribution's mirror) and, for NVIDIA and AMD, the
vendor repositories' packages (glmstack.vendor_repos; what those lack comes from the
distribution's mirror). The one exception is named: packages of the host's running kernel, which
no bundle can know (glmstack.os_packages.bundle_packages says why).
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy_on
from gpu_states import KERNEL, UBUNTU_2404, UBUNTU_KERNEL, AmdHost, AscendHost, NvidiaHost, captured
from plan_data import PLAN_DATA

from glmstack.config import resolve_inventory
from glmstack.lab.ascend import write_package_set
from glmstack.os_packages import bundle_packages, os_packages
from glmstack.paths import REPO_ROOT
from glmstack.planning import inventory_hosts
from glmstack.vendor_repos import vendor_repos

SHIPPED = sorted(path.stem for path in (REPO_ROOT / "inventory").glob("*.py"))
ASCEND_VERSIONS = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}
REBOOT = "( sleep 1 && reboot )"
INTERFACES = "for d in /sys/class/net/*"
DETECT_VIRT = "systemd-detect-virt --container"


@pytest.fixture(autouse=True)
def no_reboot_wait(monkeypatch):
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(server_ops, "sleep", lambda seconds: None)


@pytest.fixture
def installed(monkeypatch) -> list[tuple[str, str, str]]:
    """(host, operation name, package) for every package given to pyinfra's apt.packages and dnf.packages."""
    from pyinfra import host
    from pyinfra.operations import apt, dnf

    calls: list[tuple[str, str, str]] = []
    for module in (apt, dnf):
        original = module.packages

        def recording(*args, _original=original, **kwargs):
            packages = kwargs.get("packages", args[0] if args else None) or []
            calls.extend((host.name, kwargs.get("name", ""), name)
                         for name in ([packages] if isinstance(packages, str) else packages))
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, "packages", recording)
    return calls


def fake_hosts(inventory: str, tmp_path) -> list[tuple[str, dict]]:
    """The inventory's hosts as @fake hosts, with what its comments leave to the operator filled in
    (a hub commit, the Ascend package set from a mirror)."""
    hosts = []
    for name, data in inventory_hosts(REPO_ROOT / f"inventory/{inventory}.py"):
        data = {key: value for key, value in data.items() if not key.startswith("ssh_")}
        data = {**data, "model_revision": "c" * 40, "gateway_enabled": True}
        if data["model"] == "glm-5.2-gguf":
            data["model_entry"] = "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00002.gguf"
        if data["accelerator"].startswith("ascend"):
            package_set = tmp_path / data["accelerator"]
            if not package_set.exists():
                write_package_set(package_set, data["accelerator"], "aarch64", ASCEND_VERSIONS)
            data.update(ascend_packages="http://mirror.lab.example/ascend",
                        ascend_manifest=str(package_set / "manifest.yaml"), ascend_allow_reboot=True)
        hosts.append((f"@fake/{name}", data))
    return hosts


def not_a_container(responses: dict) -> dict:
    """A machine, not the captured container: the base role installs time sync on it."""
    return {command: ({"success": True, "stdout": ["none"], "stderr": []} if DETECT_VIRT in command else answer)
            for command, answer in responses.items()}


def fresh_state(data: dict, plan, rebooted: bool = False):
    """The fact answers of a fresh machine of the plan's accelerator."""
    return not_a_container(_fresh_state(data, plan, rebooted))


def _fresh_state(data: dict, plan, rebooted: bool):
    vendor = plan.accelerator.vendor
    if vendor == "nvidia":
        state = NvidiaHost(data, plan=plan)
        if "x86_64" not in plan.accelerator.cpu_arch:  # GH200: Grace
            state.os(UBUNTU_2404, arch="aarch64")
    elif vendor == "amd":
        state = AmdHost(data)
        state.plan = plan
    elif vendor == "huawei":
        state = AscendHost(data, plan=plan)
        if rebooted:
            state.versions(**ASCEND_VERSIONS).answer("/proc/uptime", ["30"]).answer(
                "cat /proc/sys/kernel/random/boot_id", ["0b5e-after-the-reboot"])
        else:
            state.answer("/proc/uptime", ["86400"])
    else:
        return captured("debian12-fresh")
    if data.get("network_interface"):
        state.answer(INTERFACES, ["lo 127.0.0.1 ::1", f"{data['network_interface']} {data['address']}"])
    if plan.ray is not None:
        state.answer("ray_nodes.py --gcs", [f"the Ray head {plan.ray.gcs} does not answer"])
    return state.responses()


def bundle_carries(plan) -> set[str]:
    from_vendors = {pin.name for repo in vendor_repos([plan]) for pin in repo.packages}
    return set(bundle_packages(plan)) | from_vendors


def of_the_running_kernel(packages: set[str]) -> set[str]:
    """The fake hosts' kernel packages (headers, modules): what no bundle can know in advance."""
    return {name for name in packages if name.endswith((f"-{KERNEL}", f"-{UBUNTU_KERNEL}"))}


def deploy_and_compare(hosts: list[tuple[str, dict]], installed: list[tuple[str, str, str]]) -> dict[str, set[str]]:
    plans = {plan.host: plan for plan in resolve_inventory(hosts)}
    fake = [(name, data, fresh_state(data, plans[name])) for name, data in hosts]
    first = plans[hosts[0][0]]
    after = None
    if first.ascend is not None:
        after = (REBOOT, fresh_state(hosts[0][1], first, rebooted=True))
    run_deploy_on(fake, after=after)
    assert installed, "no package was installed: the recording missed the deploy's apt and dnf operations"
    missing = {}
    for name, plan in plans.items():
        wanted = {package for host, _, package in installed if host == name}
        assert wanted, f"{name} installed no package"
        # Each install is a step of the host's list (glmstack.os_packages), none made up beside it.
        steps = {step.name for step in os_packages(plan).values()}
        assert {operation for host, operation, _ in installed if host == name} <= steps
        lacking = wanted - bundle_carries(plan) - of_the_running_kernel(wanted)
        if lacking:
            missing[name] = lacking
    return missing


@pytest.mark.parametrize("inventory", SHIPPED)
def test_every_package_a_shipped_inventory_installs_is_in_its_bundle(inventory, installed, tmp_path):
    missing = deploy_and_compare(fake_hosts(inventory, tmp_path), installed)
    assert not missing, f"inventory/{inventory}.py: the deploy installs what its bundle lacks: {missing}"


def test_every_package_the_lab_cpu_profile_installs_is_in_its_bundle(installed):
    # The lab's profile as the offline bundle test deploys it: the gateway on.
    missing = deploy_and_compare([("@fake/node1", {**PLAN_DATA, "gateway_enabled": True})], installed)
    assert not missing, f"the lab CPU profile installs what its bundle lacks: {missing}"

