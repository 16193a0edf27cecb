"""The old home of the service role's rendering, kept for the imports that name it.

The rendering is roles/service/render.py, from a UnitSpec (roles/service/units.py). The functions
here take a deployment plan, or a UnitSpec, and render the unit it stands for (as_unit_spec).
"""

from __future__ import annotations

from typing import Any

from glmstack.quoting import env_quote as env_quote  # their home is glmstack.quoting; imported from here too
from glmstack.quoting import systemd_quote as systemd_quote
from roles.service import render as _render
from roles.service.render import FINGERPRINT_VARIABLE as FINGERPRINT_VARIABLE
from roles.service.render import start_wait_command
from roles.service.units import NODE_WAIT_SECONDS as NODE_WAIT_SECONDS
from roles.service.units import PROXY_SETTINGS as PROXY_SETTINGS
from roles.service.units import as_unit_spec, ray_head_wait, rpc_workers_wait
from roles.service.units import ray_nodes_command as ray_nodes_command
from roles.service.units import ray_nodes_script as ray_nodes_script

Plan = Any  # a glmstack.config.DeployPlan, or a roles.service.units.UnitSpec


def unit_paths(plan: Plan) -> dict[str, str]:
    return _render.unit_paths(as_unit_spec(plan))


def service_environment(plan: Plan) -> dict[str, str]:
    return dict(as_unit_spec(plan).environment)


def environment_fields(plan: Plan) -> dict[str, str]:
    """The host-data field each variable of the unit's environment comes from (for errors)."""
    return dict(as_unit_spec(plan).environment_fields)


def rpc_wait_command(plan: Plan) -> str:
    """The RPC head's ExecStartPre: each RPC worker accepts a connection, or the start fails naming it."""
    return start_wait_command(rpc_workers_wait(plan))


def ray_head_wait_command(plan: Plan) -> str:
    """A Ray worker's ExecStartPre: the head's GCS accepts a connection, or the start fails saying so."""
    return start_wait_command(ray_head_wait(plan))


def deployed_fingerprint(plan: Plan) -> str:
    return _render.deployed_fingerprint(as_unit_spec(plan))


def render_unit(plan: Plan) -> str:
    return _render.render_unit(as_unit_spec(plan))


def render_env_file(plan: Plan) -> str:
    return _render.render_env_file(as_unit_spec(plan))


def cluster_firewall_table(plan: Plan) -> str:
    return _render.cluster_firewall_table(as_unit_spec(plan))


def render_cluster_firewall(plan: Plan) -> str:
    return _render.render_cluster_firewall(as_unit_spec(plan))


def rendered_files(plan: Plan) -> dict[str, tuple[str, str]]:
    return _render.rendered_files(as_unit_spec(plan))
