"""A GPU group deployed to a real node without GPUs stops in preflight and changes nothing."""

from __future__ import annotations

import pytest

from glmstack.lab import lab
from glmstack.lab.profile import run_deploy

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(("accelerator", "expected", "vendor_file"), [
    ("h200", "needs 8 nvidia devices (PCI vendor 10de, class 0302 or 0300)", "/etc/apt/preferences.d/glmstack-nvidia"),
    ("mi300x", "needs 8 amd devices (PCI vendor 1002, class 1200 or 0380 or 0300)",
     "/etc/default/grub.d/glmstack-amd.cfg"),
])
def test_gpu_group_on_a_node_without_gpus_stops_before_any_change(tmp_path, accelerator, expected, vendor_file):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        node = lab.up(1, paths)[0]
        inventory = lab.write_inventory(paths, output=tmp_path / f"{accelerator}.py",
                                        extra_data={"accelerator": accelerator, "model": "glm-5.2-fp8",
                                                    "engine": "vllm"})
        result = run_deploy(inventory)

        assert result.returncode != 0
        assert f"host {node['address']}: accelerator '{accelerator}' {expected}; this host has 0" in result.stderr
        host = lab.node_connection(node["address"], paths)
        assert not host.user("glmstack").exists
        assert not host.file("/opt/glmstack").exists
        assert not host.file("/usr/local/share/ca-certificates/glmstack").exists
        assert not host.file(vendor_file).exists
    finally:
        lab.down(paths)
