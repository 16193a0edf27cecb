"""The shipped inventories load through the same validation a user's run goes through."""

import re
import runpy

import pytest

from glmstack.config import InventoryError
from glmstack.paths import REPO_ROOT
from glmstack.planning import plan_inventory

READY = {  # group: (accelerator, model, engine, seed) it defaults to
    "h200": ("h200", "glm-5.2-fp8", "vllm", "000"),
    "h20": ("h20", "glm-5.2-fp8", "vllm", "000"),
    "b200": ("b200", "glm-5.2-fp8", "vllm", "000"),
    "gh200": ("gh200", "glm-5.2-fp8", "vllm", "003"),
    "mi300x": ("mi300x", "glm-5.2-fp8", "vllm", "000"),
    "mi355x": ("mi355x", "glm-5.2-fp8", "vllm", "000"),
}
NEEDS_A_PIN = {"cpu": "unsloth/GLM-5.2-GGUF", "ascend_a3": "Eco-Tech/GLM-5.2-w8a8",
               "ascend_a2": "Eco-Tech/GLM-5.2-w8a8"}


@pytest.mark.parametrize("group", READY)
def test_group_inventory_plans_the_seed_recipe_and_fits(group):
    plans = plan_inventory(REPO_ROOT / f"inventory/{group}.py")
    assert plans, f"inventory/{group}.py defines no hosts"
    for plan in plans:
        config = plan.config
        assert (config.accelerator, config.model, config.engine, plan.seed) == READY[group]
        assert plan.sizing.fits, plan.sizing.problems


def test_every_shipped_inventory_plans_unedited():
    shipped = sorted((REPO_ROOT / "inventory").glob("*.py"))
    assert {path.stem for path in shipped} >= {*READY, *NEEDS_A_PIN}
    for path in shipped:
        assert plan_inventory(path), path


@pytest.mark.parametrize("group", NEEDS_A_PIN)
def test_group_inventory_plans_unlocked_and_refuses_to_deploy_until_locked(group, capsys):
    # `glmstack plan` shows the model as not locked (no lock file is shipped)...
    for plan in plan_inventory(REPO_ROOT / f"inventory/{group}.py"):
        assert plan.model.unlocked and plan.model.source.endswith(NEEDS_A_PIN[group])
    # ...and loaded for a deploy (pyinfra runs it as this does) it refuses, before any host is contacted.
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO_ROOT / f"inventory/{group}.py"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"/{NEEDS_A_PIN[group]} (" in err and "is not locked: run glmstack lock" in err
    assert f"inventory/{group}.py" in err and "nothing was contacted" in err


def pinned(tmp_path, group: str):
    text = (REPO_ROOT / f"inventory/{group}.py").read_text()
    text = re.sub(r'# model_revision="[^"]*"', f'model_revision="{"c" * 40}"', text)
    text = text.replace("# model_entry=", "model_entry=")
    path = tmp_path / f"{group}.py"
    path.write_text(text)
    return path


def test_cpu_inventory_loads_once_pinned(tmp_path):
    hosts = runpy.run_path(str(pinned(tmp_path, "cpu")))["cpu"]
    assert hosts[0][0] == "cpu-1.lab.example"
    assert hosts[0][1]["model_revision"] == "c" * 40


def test_ascend_a2_inventory_is_one_deployment_of_two_ranks_once_pinned(tmp_path):
    plans = plan_inventory(pinned(tmp_path, "ascend_a2"))
    assert [(plan.host, plan.rank, plan.nodes) for plan in plans] == [
        ("a2-1.lab.example", 0, 2), ("a2-2.lab.example", 1, 2)]
    assert all(plan.head_address == "192.0.2.11" for plan in plans)
    assert "--headless" in plans[1].serve_argv and "--headless" not in plans[0].serve_argv


def test_a_missing_inventory_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(InventoryError, match="does not exist"):
        plan_inventory(tmp_path / "nope.py")
