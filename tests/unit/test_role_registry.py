"""Everything that lists the roles is derived from roles/registry.py: the schema (HostConfig), the
setting prefixes the unknown-key check tries, the docs' settings tables and the deploy's steps. A
role added to the registry is in all four; every role folder with settings is registered."""

from __future__ import annotations

import ast

from pydantic import BaseModel, Field

from glmstack.docs import SECTIONS, sections
from glmstack.hostdata import DeploymentSettings, HostConfig, host_config_model
from glmstack.paths import REPO_ROOT
from glmstack.shape import data_problems
from roles.registry import DEPLOY_PHASES, ROLE_PREFIXES, ROLES, Role, Step, deploy_steps, resolved, role_prefixes


class TensorUnitSettings(BaseModel):
    tensorunit_mesh: str = Field("2x2", description="A made-up role's setting.")


TENSOR_UNIT = Role("tensorunit", "tensorunit_", TensorUnitSettings, None,
                   (Step("drivers", "roles.steps:install_tensor_unit"),))
WITH_TENSOR_UNIT = (*ROLES, TENSOR_UNIT)


def test_the_schema_is_the_deployment_and_every_registered_roles_settings():
    expected = set(DeploymentSettings.model_fields)
    for role in ROLES:
        expected |= set(role.settings.model_fields) if role.settings else set()
    assert set(HostConfig.model_fields) == expected
    bases = [base for base in HostConfig.__mro__ if base.__module__.startswith("roles.")]
    assert bases == [role.settings for role in ROLES if role.settings], "registry order"


def test_every_setting_of_a_role_starts_with_its_prefix():
    for role in ROLES:
        if role.settings is None:
            assert role.prefix is None, role.name
            continue
        assert role.prefix == f"{role.name}_"
        assert all(name.startswith(role.prefix) for name in role.settings.model_fields), role.name
    assert ROLE_PREFIXES == tuple(f"{role.name}_" for role in ROLES if role.settings)


def test_every_role_folder_with_defaults_is_registered():
    """A roles/<name>/defaults.py's Settings class is the registered role's (nothing is left out,
    as the ascend role once was from the docs)."""
    registered = {role.name: role for role in ROLES}
    folders = sorted(path.parent.name for path in (REPO_ROOT / "roles").glob("*/defaults.py"))
    assert folders, "no role folders found"
    for name in folders:
        assert name in registered, f"roles/{name}/defaults.py is not in roles/registry.py"
        tree = ast.parse((REPO_ROOT / "roles" / name / "defaults.py").read_text())
        classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        assert registered[name].settings.__name__ in classes
        assert registered[name].settings.__module__ == f"roles.{name}.defaults"


def test_docs_sections_are_the_registered_roles():
    assert [title for title, _ in SECTIONS] == ["Deployment (every host)", *(
        f"Role `{role.name}`" for role in ROLES if role.settings)]
    assert "Role `ascend`" in dict(SECTIONS)


def test_the_deploy_runs_the_steps_in_the_order_it_always_has():
    """deploys/glm52.py walks deploy_steps(): the order it had when it listed the calls by hand."""
    assert [step.function.split(":")[1] for step in deploy_steps()] == [
        "install_base", "nvidia_preflight", "amd_preflight", "ascend_preflight", "start_weights",
        "start_packages", "install_nvidia", "install_amd", "install_ascend", "install_llamacpp", "install_engine",
        "finish_weights", "finish_packages", "form_cluster", "run_service", "run_gateway"]
    deploy = (REPO_ROOT / "deploys" / "glm52.py").read_text()
    assert "deploy_steps()" in deploy and "roles import" not in deploy


def test_every_step_and_planner_named_in_the_registry_exists():
    for role in ROLES:
        for reference in [*(step.function for step in role.steps), *([role.planner] if role.planner else [])]:
            assert callable(resolved(reference)), reference
        assert all(step.phase in DEPLOY_PHASES for step in role.steps)


def test_each_role_plans_in_its_own_folder():
    """A role's planner is roles/<role>/plan.py; only Ray's is the deployment's topology (a module of
    its own: it plans every node of a deployment together)."""
    where = {role.name: role.planner.partition(":")[0] for role in ROLES if role.planner}
    assert where.pop("ray") == "glmstack.topology"
    assert where == {name: f"roles.{name}.plan" for name in where}
    assert {role.name for role in ROLES if role.planner is None} == {"base"}


def test_a_role_added_to_the_registry_is_in_the_schema_prefixes_docs_and_deploy():
    schema = host_config_model(WITH_TENSOR_UNIT)
    assert "tensorunit_mesh" in schema.model_fields and "tensorunit_mesh" not in HostConfig.model_fields
    assert schema.model_validate({"accelerator": "cpu", "model": "m", "engine": "e"}).tensorunit_mesh == "2x2"
    assert "tensorunit_" in role_prefixes(WITH_TENSOR_UNIT)
    # The did-you-mean tries each setting without its role's prefix: "mehs" is near "mesh", too far
    # from the whole name "tensorunit_mesh" to be found without the prefix.
    [(_, message)] = data_problems({"mehs": "4x4"}, set(schema.model_fields), role_prefixes(WITH_TENSOR_UNIT))
    assert message.endswith("did you mean tensorunit_mesh?")
    assert ("Role `tensorunit`", TensorUnitSettings) in sections(WITH_TENSOR_UNIT)
    steps = [step.function for step in deploy_steps(WITH_TENSOR_UNIT)]
    assert steps.index("roles.steps:install_tensor_unit") == steps.index("roles.steps:install_ascend") + 1


def test_a_step_in_an_unknown_phase_is_refused():
    odd = Role("odd", None, None, None, (Step("afterwards", "roles.steps:install_base"),))
    try:
        deploy_steps((*ROLES, odd))
    except ValueError as error:
        assert "afterwards" in str(error)
    else:
        raise AssertionError("an unknown phase was accepted")
