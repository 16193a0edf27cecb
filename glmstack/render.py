"""Rendering of systemd units and environment files from the resolved plan."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from glmstack.paths import TEMPLATES

if TYPE_CHECKING:  # glmstack.config imports the roles, which import this module
    from glmstack.config import DeployPlan

_SAFE_WORD = re.compile(r"^[\w@%+=:,./-]+$")


def systemd_quote(word: str) -> str:
    """Quote one ExecStart word so systemd passes it through unchanged."""
    # systemd expands %specifiers and $VARIABLES inside ExecStart; double them to keep them literal.
    word = word.replace("%", "%%").replace("$", "$$")
    if _SAFE_WORD.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def env_quote(value: str) -> str:
    """Quote a value for a systemd EnvironmentFile line."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_jinja = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                     keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
_jinja.filters["systemd_quote"] = systemd_quote
_jinja.filters["env_quote"] = env_quote


def unit_paths(plan: DeployPlan) -> dict[str, str]:
    config = plan.config
    return {
        "unit": f"/etc/systemd/system/{plan.unit_name}.service",
        "env_file": f"{config.base_config_dir}/{plan.unit_name}.env",
        "cann_env_file": f"{config.base_config_dir}/{plan.unit_name}.cann.env",
        "home": f"{config.base_state_dir}/home/{plan.unit_name}",
    }


def service_environment(plan: DeployPlan) -> dict[str, str]:
    config = plan.config
    env = {"HOME": unit_paths(plan)["home"]}
    for name, value in (("http_proxy", config.base_http_proxy), ("https_proxy", config.base_https_proxy),
                        ("no_proxy", config.base_no_proxy)):
        if value:
            env[name] = value
            env[name.upper()] = value
    env.update(plan.serve_env)
    return env


# Set in the unit; the running engine's copy says which configuration it was started with.
FINGERPRINT_VARIABLE = "GLMSTACK_DEPLOYED"


def _unit_text(plan: DeployPlan, fingerprint: str) -> str:
    return _jinja.get_template("engine.service.j2").render(
        plan=plan, config=plan.config, paths=unit_paths(plan), fingerprint=fingerprint,
        fingerprint_variable=FINGERPRINT_VARIABLE,
        exec_start=" ".join(systemd_quote(word) for word in plan.serve_argv),
    )


def deployed_fingerprint(plan: DeployPlan) -> str:
    """Identifies the unit, its environment and the weights: what a running engine should match."""
    material = _unit_text(plan, "") + render_env_file(plan) + plan.model.fingerprint
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def render_unit(plan: DeployPlan) -> str:
    return _unit_text(plan, deployed_fingerprint(plan))


def render_env_file(plan: DeployPlan) -> str:
    return _jinja.get_template("engine.env.j2").render(plan=plan, env=service_environment(plan))


def rendered_files(plan: DeployPlan) -> dict[str, tuple[str, str]]:
    """Path on the host -> (content, mode) of every file the service role installs."""
    paths = unit_paths(plan)
    return {paths["unit"]: (render_unit(plan), "644"), paths["env_file"]: (render_env_file(plan), "600")}
