"""`glmstack render` writes exactly what the service role installs, for any host of an inventory."""

import stat

from glmstack.cli import main
from glmstack.paths import REPO_ROOT
from glmstack.planning import plan_inventory
from glmstack.render import render_env_file, render_unit


def test_render_writes_the_unit_and_environment_with_their_modes(tmp_path, capsys):
    inventory = REPO_ROOT / "inventory/mi300x.py"
    assert main(["render", str(inventory), "mi300x-1.lab.example", "--out", str(tmp_path)]) == 0
    plan = plan_inventory(inventory)[0]
    unit = tmp_path / "etc/systemd/system/vllm.service"
    env = tmp_path / "etc/glmstack/vllm.env"
    assert unit.read_text() == render_unit(plan)
    assert env.read_text() == render_env_file(plan)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert 'VLLM_ROCM_USE_AITER="1"' in env.read_text().splitlines()


def test_gpu_units_reach_exactly_their_devices():
    unit = render_unit(plan_inventory(REPO_ROOT / "inventory/h200.py")[0]).splitlines()
    allowed = [line for line in unit if line.startswith("DeviceAllow=")]
    assert allowed[:3] == ["DeviceAllow=/dev/nvidiactl rw", "DeviceAllow=/dev/nvidia-uvm rw",
                           "DeviceAllow=/dev/nvidia-uvm-tools rw"]
    assert len(allowed) == 3 + 8
    # PrivateDevices would hide the GPUs behind an opaque driver error.
    assert "PrivateDevices=yes" not in unit and "DevicePolicy=closed" in unit


def test_render_names_the_hosts_when_asked_for_an_unknown_one(capsys):
    assert main(["render", str(REPO_ROOT / "inventory/h200.py"), "nope"]) == 1
    assert "hosts: h200-1.lab.example" in capsys.readouterr().err
