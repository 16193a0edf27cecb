"""NVIDIA hosts: the pinned driver is the loaded one, every GPU is there, the fabric is up.

Skipped on hosts whose accelerator is not NVIDIA. Run with the other infra checks:

    pytest tests/infra --hosts=ssh://root@h200-1 --glm-inventory=inventory/h200.py
"""

from __future__ import annotations

import pytest

from glmstack.catalog import load_catalog

# PCI class of NVSwitch bridges; their presence means the fabric manager must run.
NVSWITCH = "0x0680"


@pytest.fixture
def nvidia(plan):
    if plan.nvidia is None:
        pytest.skip(f"{plan.config.accelerator} is not an NVIDIA accelerator")
    return plan.nvidia


def rpm_host(host) -> bool:
    return host.exists("rpm") and not host.exists("dpkg")


def query(host, fields: str) -> list[list[str]]:
    out = host.check_output(f"nvidia-smi --query-gpu={fields} --format=csv,noheader,nounits")
    return [[value.strip() for value in line.split(",")] for line in out.splitlines() if line.strip()]


def test_loaded_driver_is_the_installed_pin(host, nvidia):
    loaded = host.file("/sys/module/nvidia/version").content_string.strip()
    installed = host.check_output("modinfo -F version nvidia")
    assert loaded == installed == nvidia.driver_version


def test_every_gpu_is_visible_with_the_expected_model(host, plan, nvidia):
    gpus = query(host, "name,driver_version,persistence_mode")
    accelerator = load_catalog().accelerators[plan.config.accelerator]
    assert len(gpus) == plan.devices_per_node
    assert {driver for _, driver, _ in gpus} == {nvidia.driver_version}
    assert all(accelerator.device_name in name for name, _, _ in gpus), gpus


def test_persistence_mode_is_on(host, nvidia):
    assert host.service("nvidia-persistenced").is_running
    assert {mode for _, _, mode in query(host, "name,driver_version,persistence_mode")} == {"Enabled"}


def test_fabric_manager_runs_where_there_are_nvswitches(host, nvidia):
    classes = host.check_output("cat /sys/bus/pci/devices/*/class").split()
    vendors = host.check_output("cat /sys/bus/pci/devices/*/vendor").split()
    nvswitches = sum(1 for c, v in zip(classes, vendors, strict=True) if c.startswith(NVSWITCH) and v == "0x10de")
    if not nvswitches:
        pytest.skip("no NVSwitch on this host")
    assert host.service("nvidia-fabricmanager").is_running
    names = nvidia.rpm_fabricmanager_packages if rpm_host(host) else nvidia.fabricmanager_packages
    fm = host.package(names[0])
    assert fm.is_installed and fm.version.startswith(f"{nvidia.driver_version}-")
    assert "Completed" in host.check_output("nvidia-smi -q | grep -iA2 fabric")


def test_driver_packages_are_held(host, nvidia):
    if rpm_host(host):
        locks = host.check_output("cat /etc/dnf/plugins/versionlock.list")
        assert all(f"{name}-" in locks and nvidia.driver_version in locks for name in nvidia.rpm_driver_packages)
    else:
        held = host.check_output("apt-mark showhold").split()
        assert set(nvidia.driver_packages) <= set(held)


def test_cuda_toolkit_of_the_line_is_installed(host, nvidia):
    assert host.file(f"{nvidia.cuda.home}/bin/nvcc").is_file
