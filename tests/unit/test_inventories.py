"""The shipped inventories load through the same validation a user's run goes through."""

import runpy

import pytest

from glmstack.paths import REPO_ROOT


def test_cpu_inventory_refuses_to_load_until_the_hub_revision_is_pinned(capsys):
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO_ROOT / "inventory/cpu.py"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "host cpu-1.lab.example: field model_revision: hf://unsloth/GLM-5.2-GGUF needs a pinned commit" in err
    assert "nothing was contacted" in err


def test_cpu_inventory_loads_once_pinned(tmp_path):
    text = (REPO_ROOT / "inventory/cpu.py").read_text()
    text = text.replace('# model_revision="<40-character commit sha>"', f'model_revision="{"c" * 40}"')
    text = text.replace("# model_entry=", "model_entry=")
    pinned = tmp_path / "cpu.py"
    pinned.write_text(text)
    hosts = runpy.run_path(str(pinned))["cpu"]
    assert hosts[0][0] == "cpu-1.lab.example"
    assert hosts[0][1]["model_revision"] == "c" * 40
