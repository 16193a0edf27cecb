"""The roles of the collection, in one ordered tuple: everything that lists the roles is derived
from it, so a role added here is in the schema, the unknown-key check, the docs and the deploy.

Derived from ROLES:
- glmstack.hostdata.HostConfig: DeploymentSettings plus every role's Settings class, in this order;
- ROLE_PREFIXES: the setting prefixes glmstack.shape's did-you-mean strips (every setting of a role
  starts with its prefix: tests/unit/test_role_registry.py);
- glmstack.docs.SECTIONS: one settings table per role with settings, in this order;
- deploys/glm52.py: walks DEPLOY_PHASES, and in each phase the roles in this order.

A role is a folder roles/<role>/: defaults.py (its Settings), plan.py (its planner), operations.py
(its pyinfra operations, which its steps in roles/steps.py call) and templates/ or files/.

Planners and steps are named ("module:function") rather than imported: the planners import the
schema, which is built from this tuple, and the steps import pyinfra; resolving them where they run
keeps this module a leaf of the import graph.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from roles.amd.defaults import AmdSettings
from roles.ascend.defaults import AscendSettings
from roles.base.defaults import BaseSettings
from roles.gateway.defaults import GatewaySettings
from roles.llamacpp.defaults import LlamaCppSettings
from roles.model.defaults import ModelSettings
from roles.nvidia.defaults import NvidiaSettings
from roles.service.defaults import ServiceSettings

# The deploy's phases, in the order it runs them; a role's steps each name their phase. Preflights
# raise before any host is changed; the weights download starts before the long installs and is
# waited for after them; the cluster forms before the engine's unit starts.
DEPLOY_PHASES = ("preflight", "weights-start", "drivers", "engines", "weights-finish", "cluster", "serve")


def resolved(reference: str) -> Callable[..., Any]:
    """The function a "module:function" reference names."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Step:
    phase: str
    function: str  # "module:function", called with (plan, DeployState)

    def run(self, plan: Any, state: Any) -> None:
        resolved(self.function)(plan, state)


@dataclass(frozen=True)
class Role:
    name: str
    prefix: str | None  # what each of its settings' names starts with; None: it has no settings
    settings: type[BaseModel] | None
    # Where the role's planner is ("module:function": its narrow plan from host data and the catalog).
    # An index for readers and tests; glmstack.resolve calls the planners itself, in the order their
    # problems have always been reported in, passing each what it needs (nodes, RPC, other plans).
    planner: str | None
    steps: tuple[Step, ...] = ()


def _steps(*pairs: tuple[str, str]) -> tuple[Step, ...]:
    return tuple(Step(phase, f"roles.steps:{function}") for phase, function in pairs)


ROLES: tuple[Role, ...] = (
    Role("base", "base_", BaseSettings, None, _steps(("preflight", "install_base"))),
    Role("llamacpp", "llamacpp_", LlamaCppSettings, "roles.llamacpp.plan:plan_llamacpp",
         _steps(("engines", "install_llamacpp"))),
    Role("engine", None, None, "roles.engine.plan:plan_engine_env", _steps(("engines", "install_engine"))),
    Role("model", "model_", ModelSettings, "roles.model.plan:plan_model",
         _steps(("weights-start", "start_weights"), ("weights-start", "start_packages"),
                ("weights-finish", "finish_weights"), ("weights-finish", "finish_packages"))),
    Role("nvidia", "nvidia_", NvidiaSettings, "roles.nvidia.plan:plan_nvidia",
         _steps(("preflight", "nvidia_preflight"), ("drivers", "install_nvidia"))),
    Role("amd", "amd_", AmdSettings, "roles.amd.plan:plan_amd",
         _steps(("preflight", "amd_preflight"), ("drivers", "install_amd"))),
    Role("ascend", "ascend_", AscendSettings, "roles.ascend.plan:plan_ascend",
         _steps(("preflight", "ascend_preflight"), ("drivers", "install_ascend"))),
    Role("ray", None, None, "glmstack.topology:plan_ray", _steps(("cluster", "form_cluster"))),
    Role("service", "service_", ServiceSettings, "roles.service.plan:plan_api_key", _steps(("serve", "run_service"))),
    Role("gateway", "gateway_", GatewaySettings, "roles.gateway.plan:plan_gateway", _steps(("serve", "run_gateway"))),
)


def role_prefixes(roles: tuple[Role, ...] = ROLES) -> tuple[str, ...]:
    """The setting prefixes of the roles that have settings: what the did-you-mean tries without."""
    return tuple(role.prefix for role in roles if role.prefix)


ROLE_PREFIXES = role_prefixes()


def role_settings(roles: tuple[Role, ...] = ROLES) -> tuple[type[BaseModel], ...]:
    """The Settings classes of the roles that have settings, in registry order."""
    return tuple(role.settings for role in roles if role.settings is not None)


def deploy_steps(roles: tuple[Role, ...] = ROLES) -> list[Step]:
    """Every role's steps, phase by phase, the roles of a phase in registry order."""
    unknown = [step.phase for role in roles for step in role.steps if step.phase not in DEPLOY_PHASES]
    if unknown:
        raise ValueError(f"steps name unknown phases {unknown}; phases: {', '.join(DEPLOY_PHASES)}")
    return [step for phase in DEPLOY_PHASES for role in roles for step in role.steps if step.phase == phase]
