"""AMD hosts: amdgpu loaded on a kernel booted with iommu=pt, every GPU visible to ROCm.

Skipped on hosts whose accelerator is not AMD. Run with the other infra checks:

    pytest tests/infra --hosts=ssh://root@mi300x-1 --glm-inventory=inventory/mi300x.py
"""

from __future__ import annotations

import pytest


@pytest.fixture
def amd(plan):
    if plan.amd is None:
        pytest.skip(f"{plan.config.accelerator} is not an AMD accelerator")
    return plan.amd


def test_amdgpu_is_loaded_and_the_boot_has_iommu_pt(host, amd):
    assert host.file("/sys/module/amdgpu").is_directory
    cmdline = host.file("/proc/cmdline").content_string.split()
    assert all(parameter in cmdline for parameter in amd.kernel_parameters)


def test_rocminfo_lists_every_gpu_of_the_architecture(host, plan, amd):
    agents = [line for line in host.check_output("/opt/rocm/bin/rocminfo").splitlines()
              if line.strip().startswith("Name:") and amd.gfx_arch in line]
    assert len(agents) == plan.devices_per_node


def test_amd_smi_lists_every_gpu(host, plan, amd):
    listing = host.check_output("/opt/rocm/bin/amd-smi list")
    assert listing.count("GPU:") == plan.devices_per_node


def test_driver_and_rocm_are_held(host, amd):
    if host.exists("apt-mark"):
        held = set(host.check_output("apt-mark showhold").split())
        assert set(amd.held_packages) <= held
    else:
        locks = host.check_output("cat /etc/dnf/plugins/versionlock.list")
        assert all(f"{name}-" in locks for name in amd.held_packages)


def test_service_user_can_open_the_devices(host, plan, amd):
    groups = host.user(plan.config.base_service_user).groups
    assert {"render", "video"} <= set(groups)
