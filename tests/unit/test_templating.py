"""One Jinja setup for every role (glmstack.templating): each role's environment comes from
role_templates, with the same settings and every quoting filter, so a template means the same in
every role's folder."""

from __future__ import annotations

import ast
import importlib

from jinja2 import Environment, StrictUndefined

from glmstack.paths import REPO_ROOT
from glmstack.templating import QUOTING_FILTERS, templates_folder

SOURCES = sorted([*(REPO_ROOT / "glmstack").rglob("*.py"), *(REPO_ROOT / "roles").rglob("*.py")])


def imports_jinja(path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(name == "jinja2" or name.startswith("jinja2.") for name in names):
            return True
    return False


def test_only_glmstack_templating_builds_a_jinja_environment():
    builders = [str(path.relative_to(REPO_ROOT)) for path in SOURCES if imports_jinja(path)]
    assert builders == ["glmstack/templating.py"]


def role_environments() -> dict[str, Environment]:
    """Every Jinja environment a module of roles/ keeps at module level, by module."""
    found = {}
    for path in sorted((REPO_ROOT / "roles").rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            continue
        module = importlib.import_module(".".join(parts))
        found |= {f"{module.__name__}.{name}": value for name, value in vars(module).items()
                  if isinstance(value, Environment)}
    return found


def test_every_role_environment_is_the_shared_setup():
    environments = role_environments()
    # the roles that write files from templates: each has one
    assert {name.rsplit(".", 1)[0] for name in environments} >= {
        "roles.amd.operations", "roles.base.operations", "roles.engine.operations", "roles.llamacpp.operations",
        "roles.model.operations", "roles.nvidia.operations", "roles.service.render"}
    for name, environment in environments.items():
        assert environment.undefined is StrictUndefined, name
        assert (environment.keep_trailing_newline, environment.trim_blocks, environment.lstrip_blocks) == \
            (True, True, True), name
        assert {key: environment.filters.get(key) for key in QUOTING_FILTERS} == QUOTING_FILTERS, name
        module_file = importlib.import_module(name.rsplit(".", 1)[0]).__file__
        assert environment.loader.searchpath == [str(templates_folder(module_file))], name
