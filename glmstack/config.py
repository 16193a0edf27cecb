"""The names host data's modules had when they were one: kept so that code and tests importing them
from here keep working. New code imports from where each lives:

- glmstack.hostdata: the schema (HostConfig, DeploymentSettings) and its errors;
- glmstack.validate: one host's data validated on its own;
- glmstack.command: the engine's serve command line and what extra_flags may add to it;
- glmstack.plan: the resolved plan (DeployPlan, RayPlan);
- glmstack.topology: a deployment's nodes together (ranks, ports, Ray, RPC, RoCE, weights seeding);
- glmstack.resolve: resolve_inventory and resolve;
- roles/<role>/plan.py: each role's narrow plan and its planner.
"""

from glmstack.checks import credentials_in_url as _credentials_in_url
from glmstack.command import (
    FLAG_SETTINGS,
    HOST_TUNABLES,
    effective_tunables,
    engine_limitations,
    render_serve_command,
    setting_flag_owners,
)
from glmstack.hostdata import DeploymentSettings, HostConfig, HostDataError, InventoryError, ca_certificate_problem
from glmstack.plan import DeployPlan, RayPlan
from glmstack.resolve import engine_environment, resolve, resolve_inventory, validate_inventory
from glmstack.topology import ray_environment
from roles.amd.plan import AmdPlan
from roles.ascend.plan import AscendPackagePlan, AscendPlan
from roles.engine.plan import EngineEnvPlan, EnvTarget, environment_targets
from roles.llamacpp.plan import LlamaCppPlan
from roles.model.plan import GraftPlan, ModelPlan
from roles.nvidia.plan import NvidiaPlan
from roles.service.plan import ApiKeyPlan

__all__ = [
    "FLAG_SETTINGS", "HOST_TUNABLES", "AmdPlan", "ApiKeyPlan", "AscendPackagePlan", "AscendPlan", "DeployPlan",
    "DeploymentSettings", "EngineEnvPlan", "EnvTarget", "GraftPlan", "HostConfig", "HostDataError", "InventoryError",
    "LlamaCppPlan", "ModelPlan", "NvidiaPlan", "RayPlan", "_credentials_in_url", "ca_certificate_problem",
    "effective_tunables", "engine_environment", "engine_limitations", "environment_targets",
    "ray_environment", "render_serve_command", "resolve", "resolve_inventory", "setting_flag_owners",
    "validate_inventory",
]
