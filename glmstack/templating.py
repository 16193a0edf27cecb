"""The one Jinja environment the roles render their host files with: each role's templates/ folder,
and a filter for each syntax a value lands in (glmstack.quoting), taking the field the value came from.

    _templates = role_templates(__file__)          # in roles/<role>/operations.py
    _templates.get_template(name).render(...)      # {{ value | shell_word("field") }}
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from glmstack import quoting

# Every quoting function that takes a value (and the field it came from) and returns its text.
QUOTING_FILTERS = {name: getattr(quoting, name) for name in (
    "one_line", "exec_word", "exec_line", "unit_setting", "unit_list_word", "unit_path", "unit_list",
    "unit_environment", "env_name", "env_quote", "shell_word", "plain_shell_word", "apt_value", "ini_value",
    "apt_source_word", "nft_address", "nft_port", "nft_identifier", "refuse_control_characters",
    "haproxy_word", "haproxy_name", "haproxy_path", "haproxy_address",
)}


def templates_folder(module_file: str) -> Path:
    """roles/<role>/templates, found from the role's module (inside the package, never from the cwd)."""
    return Path(module_file).resolve().parent / "templates"


@cache
def shared_templates() -> Environment:
    """The environment of glmstack/templates (beside this module): snippets several roles' scripts share."""
    return role_templates(__file__)


def role_templates(module_file: str) -> Environment:
    """The environment for the role whose module (operations.py, render.py) is `module_file`."""
    environment = Environment(loader=FileSystemLoader(str(templates_folder(module_file))), undefined=StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(QUOTING_FILTERS)
    return environment
