"""glmstack.os_packages: the one list of OS packages the roles install and a bundle carries."""

from __future__ import annotations

from hostdata import CPU_MIRROR

from glmstack.config import resolve, resolve_inventory
from glmstack.os_packages import bundle_packages, kernel_packages, os_packages, vendor_packages
from glmstack.vendor_repos import vendor_repos

H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
MI300X = {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}


def test_the_bundle_carries_time_sync_though_only_the_host_knows_whether_it_installs_it():
    plan = resolve("node1", CPU_MIRROR)
    assert os_packages(plan)["time-sync"].when  # a container, or a time daemon already there: skipped
    assert "systemd-timesyncd" in bundle_packages(plan)
    off = resolve("node1", {**CPU_MIRROR, "base_time_sync": False})
    assert "time-sync" not in os_packages(off) and "systemd-timesyncd" not in bundle_packages(off)


def test_the_bundle_is_every_step_and_the_roles_steps_are_the_bundles():
    plan = resolve("node1", {**CPU_MIRROR, "base_packages": ["htop"]})
    steps = os_packages(plan)
    assert list(steps) == ["base", "time-sync", "llamacpp", "gateway"]
    assert bundle_packages(plan) == list(dict.fromkeys(name for step in steps.values() for name in step.packages))
    assert "htop" in steps["base"].packages


def test_kernel_packages_are_named_for_the_host_and_left_out_of_the_bundle():
    nvidia = resolve("node1", H200)
    step = os_packages(nvidia)["nvidia-kernel"]
    assert step.for_family("deb", kernel="6.1.0-28-amd64")[0] == "linux-headers-6.1.0-28-amd64"
    assert step.for_family("rpm", kernel="5.14.0-427.el9")[:2] == ["kernel-devel-5.14.0-427.el9", "kernel-headers"]
    assert kernel_packages(nvidia) == ["linux-headers-{kernel}"]
    assert not any("{" in name for name in bundle_packages(nvidia))
    # What the DKMS build and the key check need from the distribution is carried.
    assert {"dkms", "gnupg"} <= set(bundle_packages(nvidia))


def test_rhel_only_steps_are_not_in_a_bundle_of_debian_names():
    plan = resolve("node1", H200)
    versionlock = os_packages(plan)["nvidia-versionlock"]
    assert versionlock.for_family("deb") == [] and versionlock.for_family("rpm") == ["python3-dnf-plugin-versionlock"]
    assert "python3-dnf-plugin-versionlock" not in bundle_packages(plan)


def test_amds_packages_from_its_own_repository_are_the_vendor_parts_not_the_distributions():
    plan = resolve("node1", MI300X)
    assert vendor_packages(plan) == ["amdgpu-dkms", "python3-setuptools", "python3-wheel", "rocm"]
    assert not set(vendor_packages(plan)) & set(bundle_packages(plan))
    pins = {pin.name for repo in vendor_repos([plan]) for pin in repo.packages}
    assert set(vendor_packages(plan)) <= pins
    assert "gnupg" in bundle_packages(plan)


def test_the_host_passing_llamacpps_git_source_on_installs_git_and_its_bundle_carries_it():
    hosts = [(f"cpu-{n}", {**CPU_MIRROR, "address": f"10.0.0.{n}", "model_fetch_from": "cpu-1"}) for n in (1, 2)]
    seed, peer = resolve_inventory(hosts)
    assert os_packages(seed)["fanout-git"].packages == ("git",) and "fanout-git" not in os_packages(peer)
    assert "git" in bundle_packages(seed)


def test_an_engine_environment_gets_python3_venv_for_uv_whatever_its_engine_lists():
    ascend = resolve("node1", {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                               "model_revision": "0" * 40})
    assert ascend.engine_env.system_packages == ()
    assert os_packages(ascend)["engine"].packages == ("python3-venv",)
