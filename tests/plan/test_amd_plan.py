"""Plan tests: what deploys/glm52.py does on AMD Instinct hosts, state by state.

The hosts are built by gpu_states.py (the captured Debian 12 lab node underneath, AMD answers
constructed in the facts' own formats): no AMD machine was captured yet.
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy
from gpu_states import RHEL_9, UBUNTU_2204, AmdHost, os_release

from glmstack.render import render_env_file, render_unit

MI300X = {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}
MI355X = {"accelerator": "mi355x", "model": "glm-5.2-fp8", "engine": "vllm"}
DEBIAN_12 = os_release("debian", "12", "Debian GNU/Linux 12 (bookworm)")
REBOOT = "( sleep 1 && reboot )"
STOP = "a reboot is needed"



def stopping(state: AmdHost) -> AmdHost:
    """The host answers the deploy's stop command as a real shell does: by failing."""
    return state.answer(STOP, [], success=False)


def test_fresh_host_installs_the_driver_then_stops_for_the_iommu_reboot():
    run = run_deploy(MI300X, stopping(AmdHost(MI300X)).responses(), allow_failure=True)
    commands = run.commands
    order = [
        "https://repo.radeon.com/amdgpu-install/7.2.1/ubuntu/noble/amdgpu-install_7.2.1.70201-1_all.deb",
        "install --no-install-recommends linux-headers-6.8.0-60-generic linux-modules-extra-6.8.0-60-generic",
        "install --no-install-recommends amdgpu-dkms",
        "update-grub",
        STOP,
    ]
    run.assert_in_order(order)
    assert run.failed == ["glmstack amd | Run the installed amdgpu"]
    assert "the running kernel was booted without iommu=pt" in commands[run.index_of(STOP)]
    assert not any(" rocm" in c and "install" in c for c in commands)  # ROCm 7: driver first, reboot, then ROCm


def test_with_reboots_allowed_it_reboots_then_installs_rocm_aiter_and_vllm(monkeypatch):
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(server_ops, "sleep", lambda seconds: None)
    data = {**MI300X, "amd_allow_reboot": True}
    before = AmdHost(data).answer("/proc/uptime", ["86400"])
    after = AmdHost(data).amdgpu("6.12.12", "6.12.12").answer("/proc/uptime", ["30"])
    run = run_deploy(data, before.responses(), after=(REBOOT, after.responses()))
    commands = run.commands
    order = [
        "update-grub",
        REBOOT,
        "install --no-install-recommends python3-setuptools python3-wheel rocm",
        "apt-mark hold amdgpu-install amdgpu-dkms rocm",
        "ldconfig && printf",
        "uv venv --quiet --python 3.12 /opt/glmstack/venvs/vllm-0.23.0-",
        "systemctl start vllm.service",
    ]
    run.assert_in_order(order)
    install = commands[run.index_of("uv venv --quiet --python 3.12")]
    assert "export GPU_ARCHS=gfx942" in install
    assert "--extra-index-url https://wheels.vllm.ai/rocm/0.23.0/rocm721 vllm==0.23.0" in install
    assert install.index("import vllm") < install.index("import aiter") < install.rindex("GLMSTACK-INSTALL")


def test_mi355x_builds_aiter_for_gfx950():
    install = next(c for c in run_deploy(MI355X, AmdHost(MI355X).amdgpu("6.12.12", "6.12.12").responses()).commands
                   if "uv venv --quiet" in c)
    assert "export GPU_ARCHS=gfx950" in install


@pytest.mark.parametrize(("release", "modules_extra"), [(UBUNTU_2204, True), (DEBIAN_12, False)])
def test_jammy_installer_for_ubuntu_2204_and_debian_12(release, modules_extra):
    run = run_deploy(MI300X, stopping(AmdHost(MI300X, release)).responses(), allow_failure=True)
    assert any("/amdgpu-install/7.2.1/ubuntu/jammy/amdgpu-install_7.2.1.70201-1_all.deb" in c for c in run.commands)
    assert any("linux-modules-extra-" in c for c in run.commands if "apt-get" in c) is modules_extra


def test_mirror_replaces_amds_host_in_the_installer_and_the_sources_it_writes():
    data = {**MI300X, "amd_repo_url": "http://mirror.lab.example/radeon/"}
    state = stopping(AmdHost(data)).answer("grep -lsF https://repo.radeon.com",
                                           ["/etc/apt/sources.list.d/amdgpu.list", "/etc/apt/sources.list.d/rocm.list"])
    run = run_deploy(data, state.responses(), allow_failure=True)
    assert any("http://mirror.lab.example/radeon/amdgpu-install/7.2.1/ubuntu/noble/" in c for c in run.commands)
    rewrite = run.index_of("sed -i 's|https://repo\\.radeon\\.com|http://mirror.lab.example/radeon|g'")
    assert (run.index_of("dpkg -i /tmp/glmstack-amdgpu-install.deb") < rewrite
            < run.index_of("install --no-install-recommends amdgpu-dkms"))
    downloads = [c for c in run.commands if c.startswith(("curl", "apt-get", "DEBIAN_FRONTEND"))]
    assert not any("repo.radeon.com" in c for c in downloads)


def test_converged_host_changes_nothing():
    run = run_deploy(MI300X, AmdHost(MI300X).converged().responses())
    assert run.changed == []
    assert len(run.unchanged) > 25


def test_a_loaded_amdgpu_other_than_the_installed_one_needs_a_reboot():
    state = stopping(AmdHost(MI300X).converged().amdgpu("6.10.5", "6.12.12"))
    run = run_deploy(MI300X, state.responses(), allow_failure=True)
    assert run.failed == ["glmstack amd | Run the installed amdgpu"]
    assert "amdgpu 6.12.12 is installed but 6.10.5 is loaded" in run.commands[run.index_of(STOP)]


def test_unheld_rocm_is_held_again_without_reinstalling():
    run = run_deploy(MI300X, AmdHost(MI300X).converged().held("amdgpu-install", "amdgpu-dkms").responses())
    assert run.changed == ["glmstack amd | Hold amdgpu and ROCm"]
    assert "apt-mark hold rocm" in run.commands


def test_fresh_rhel_uses_the_rpm_installer_grubby_and_version_locks(monkeypatch):
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(server_ops, "sleep", lambda seconds: None)
    data = {**MI300X, "amd_allow_reboot": True}
    before = AmdHost(data, RHEL_9).answer("/proc/uptime", ["86400"])
    after = AmdHost(data, RHEL_9).amdgpu("6.12.12", "6.12.12").answer("/proc/uptime", ["30"])
    run = run_deploy(data, before.responses(), after=(REBOOT, after.responses()))
    order = [
        # ROCm's key, its fingerprint checked, imported; the installer's signature checked with it.
        "curl -fsSL --retry 3 -o /etc/pki/rpm-gpg/RPM-GPG-KEY-ROCM.new https://repo.radeon.com/rocm/rocm.gpg.key",
        "grep -qx CA8BB4727A47B4D09B4EE8969386B48A1A693C5C",
        "rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-ROCM",
        "curl -fsSL --retry 3 -o /tmp/glmstack-amdgpu-install.rpm https://repo.radeon.com/amdgpu-install/7.2.1/"
        "rhel/9.6/amdgpu-install-7.2.1.70201-1.el9.noarch.rpm",
        "rpm -K /tmp/glmstack-amdgpu-install.rpm | grep -q 'signatures OK'",
        "dnf install -y /tmp/glmstack-amdgpu-install.rpm",
        "dnf install -y kernel-headers kernel-devel-5.14.0-427.13.1.el9_4.x86_64 kernel-devel-matched",
        "dnf install -y amdgpu-dkms",
        "grubby --update-kernel=ALL --args=iommu=pt",
        REBOOT,
        "dnf install -y python3-setuptools python3-wheel rocm",
        "dnf versionlock add amdgpu-install amdgpu-dkms rocm",
        "uv venv --quiet --python 3.12",
    ]
    run.assert_in_order(order)
    assert not any("apt-get" in c or "update-grub" in c for c in run.commands)


def test_converged_rhel_changes_nothing():
    run = run_deploy(MI300X, AmdHost(MI300X, RHEL_9).converged().responses())
    assert run.changed == []


def test_secure_boot_stops_a_fresh_host_before_any_change():
    from pyinfra.api.exceptions import PyinfraError

    with pytest.raises(PyinfraError) as error:
        run_deploy(MI300X, AmdHost(MI300X).secure_boot(True).responses())
    assert "UEFI Secure Boot is on, and the amdgpu modules DKMS builds would not load" in str(
        error.value.__cause__ or error.value)


def test_unit_opens_only_kfd_and_render_nodes_with_the_seed_environment():
    plan = AmdHost(MI300X).plan
    unit = render_unit(plan)
    allowed = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("DeviceAllow=")]
    assert allowed == ["/dev/kfd rw", "char-drm rw"] and "DevicePolicy=closed" in unit
    assert "SupplementaryGroups=render video" in unit
    env = render_env_file(plan)
    for line in ('VLLM_ROCM_USE_AITER="1"', 'VLLM_ROCM_USE_AITER_FUSION_SHARED_EXPERTS="1"',
                 'AITER_JIT_DIR="/var/lib/glmstack/home/vllm/aiter-jit"'):
        assert line in env
    argv = " ".join(plan.serve_argv)
    for flags in ("--kv-cache-dtype fp8_e4m3", "--linear-backend aiter --moe-backend aiter",
                  "--gpu-memory-utilization 0.8 --max-model-len 524288 --max-num-seqs 32",
                  "--speculative-config.num_speculative_tokens 5"):
        assert flags in argv


def test_installer_package_is_installed_only_with_rocms_key_in_it():
    run = run_deploy(MI300X, AmdHost(MI300X).responses(), allow_failure=True)
    installer = next(c for c in run.commands if "amdgpu-install_7.2.1.70201-1_all.deb" in c)
    assert installer.index("dpkg-deb -x /tmp/glmstack-amdgpu-install.deb") < installer.index(
        "grep -qx CA8BB4727A47B4D09B4EE8969386B48A1A693C5C") < installer.index("dpkg -i")
