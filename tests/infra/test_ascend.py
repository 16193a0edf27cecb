"""Huawei Ascend hosts: the NPUs answer, the installed driver, firmware and CANN are the package
set's, HCCN links are up between the nodes of a deployment, CANN's environment is in the unit.

Skipped on hosts whose accelerator is not Ascend. Run with the other infra checks:

    pytest tests/infra --hosts=ssh://root@a3-1 --glm-inventory=inventory/ascend_a3.py
"""

from __future__ import annotations

import re

import pytest

from glmstack.facts import AscendVersions
from roles.service.render import render_unit, unit_paths


@pytest.fixture
def ascend(plan):
    if plan.ascend is None:
        pytest.skip(f"{plan.config.accelerator} is not an Ascend accelerator")
    if not plan.ascend.packages:
        pytest.fail("the inventory names no package set (ascend_packages): nothing to compare with")
    return plan.ascend


def test_installed_versions_are_the_package_sets(host, ascend):
    command = AscendVersions().command([(p.component, list(p.version_files), p.installer.version_key)
                                        for p in ascend.packages])
    installed = AscendVersions().process(host.check_output(command).splitlines())
    assert installed == {p.component: p.version for p in ascend.packages}


def test_no_reboot_is_pending(host, ascend):
    stamp = host.file(ascend.reboot_stamp)
    assert not stamp.exists or stamp.content_string.strip() != host.file("/proc/sys/kernel/random/boot_id") \
        .content_string.strip(), "the driver or firmware was installed in this boot: reboot the host"


def test_npu_smi_lists_every_npu(host, ascend):
    # [I] `npu-smi info -l` reports "Total Count : N" (third-party guides; not seen on a host here).
    listing = host.check_output("npu-smi info -l")
    count = re.search(r"Total Count\s*:\s*(\d+)", listing)
    assert count and int(count.group(1)) == ascend.npus, listing


def test_hccn_links_are_up_between_the_nodes(host, plan, ascend):
    if plan.nodes < 2:
        pytest.skip("a single node: no HCCN traffic between nodes")
    tool = "/usr/local/Ascend/driver/tools/hccn_tool"
    down = [i for i in range(ascend.npus)
            if "UP" not in host.check_output(f"{tool} -i {i} -link -g").upper()]
    assert down == [], f"HCCN links not up on NPUs {down}"


def test_service_user_is_in_the_npu_group(host, plan, ascend):
    assert ascend.group in host.user(plan.config.base_service_user).groups


def test_cann_environment_is_captured_for_the_unit(host, unit, ascend):
    path = unit_paths(unit)["cann_env_file"]
    environment = host.file(path).content_string
    assert re.search(r"^ASCEND_TOOLKIT_HOME=\S+$", environment, re.MULTILINE), environment
    assert f"EnvironmentFile={path}" in render_unit(unit)
