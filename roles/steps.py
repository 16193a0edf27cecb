"""The deploy's steps, one small function per role and phase, as roles/registry.py names them; each
calls its role's operations (roles/<role>/operations.py).

Each takes the host's plan and the DeployState the steps share: what one step learns (the weights
units changed, the CANN environment changed) that a later one acts on. A step that does not apply
to the host (a driver for another vendor) does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyinfra import host

from roles.amd import operations as amd
from roles.ascend import operations as ascend
from roles.base import operations as base
from roles.engine.operations import install_engine as install_engine_env
from roles.gateway.operations import run_gateway as start_gateway
from roles.llamacpp.operations import install_llamacpp as build_llamacpp
from roles.model import fanout_operations as fanout
from roles.model.operations import (
    finish_model_download,
    graft_weights,
    keep_weights,
    start_model_download,
    weights_parts,
)
from roles.nvidia import operations as nvidia
from roles.ray.operations import form_cluster as form_ray_cluster
from roles.service.operations import run_service as start_service

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan


@dataclass
class DeployState:
    """What earlier steps tell later ones on this host."""

    weights: list = field(default_factory=list)  # the parts whose download runs as a unit of its own
    weights_units_changed: list[bool] = field(default_factory=list)
    weights_refetched: bool = False
    serving_packages: bool = False  # the host fetches the group's packages and serves them in this run
    # The engine restarts when what it runs on changed under it (CANN's environment, the RoCE ports).
    runtime_changed: bool = False


def install_base(plan: DeployPlan, state: DeployState) -> None:
    base.install_base(plan)  # its preflight first: OS, CPU, accelerator devices, engine installable


def nvidia_preflight(plan: DeployPlan, state: DeployState) -> None:
    if plan.nvidia is not None:
        nvidia.preflight(plan)


def amd_preflight(plan: DeployPlan, state: DeployState) -> None:
    if plan.amd is not None:
        amd.preflight(plan)


def ascend_preflight(plan: DeployPlan, state: DeployState) -> None:
    if plan.ascend is not None:
        ascend.preflight(plan)


def start_weights(plan: DeployPlan, state: DeployState) -> None:
    # The weights download runs as its own unit while drivers and engines install (it dominates the
    # time to serve); a reboot for the driver interrupts it, and finish_weights starts it again.
    # (A grafted model's two parts each download this way.)
    # Before anything is fetched: the verified weights a change replaces, kept until it is ready.
    keep_weights(plan)
    state.weights = weights_parts(plan)
    state.weights_units_changed = [start_model_download(part) for part in host.loop(state.weights)]


def start_packages(plan: DeployPlan, state: DeployState) -> None:
    # Once per lab: the host passing the weights on fetches the group's other downloads meanwhile.
    state.serving_packages = fanout.start_fetching(plan)


def install_nvidia(plan: DeployPlan, state: DeployState) -> None:
    if plan.nvidia is not None:
        nvidia.install_nvidia(plan)


def install_amd(plan: DeployPlan, state: DeployState) -> None:
    if plan.amd is not None:
        amd.install_amd(plan)


def install_ascend(plan: DeployPlan, state: DeployState) -> None:
    if plan.ascend is None:
        return
    cann_environment_changed = ascend.install_ascend(plan)
    # The driver runs by now; HCCL needs the NPUs' RoCE ports before the engine starts.
    roce_changed = ascend.configure_roce(plan)
    state.runtime_changed = state.runtime_changed or cann_environment_changed or roce_changed


def install_llamacpp(plan: DeployPlan, state: DeployState) -> None:
    if plan.llamacpp is not None:
        build_llamacpp(plan)


def install_engine(plan: DeployPlan, state: DeployState) -> None:
    if plan.engine_env is not None:
        install_engine_env(plan.engine_env, fanout=plan.fanout)


def finish_weights(plan: DeployPlan, state: DeployState) -> None:
    parts = list(zip(state.weights, state.weights_units_changed, strict=True))
    state.weights_refetched = any([finish_model_download(part, reload=changed) for part, changed in host.loop(parts)])
    if plan.model.graft is not None:
        state.weights_refetched = graft_weights(plan, parts_refetched=state.weights_refetched) or \
            state.weights_refetched


def finish_packages(plan: DeployPlan, state: DeployState) -> None:
    fanout.finish_serving(plan, state.serving_packages)  # every host installed by now


def form_cluster(plan: DeployPlan, state: DeployState) -> None:
    if plan.ray is not None:
        form_ray_cluster(plan)  # every node; the head waits for them all


def run_service(plan: DeployPlan, state: DeployState) -> None:
    if plan.ray is None or plan.rank == 0:  # a Ray worker runs no engine unit: the head drives it
        start_service(plan, weights_refetched=state.weights_refetched or state.runtime_changed)


def run_gateway(plan: DeployPlan, state: DeployState) -> None:
    if plan.gateway is not None:
        start_gateway(plan)  # after the engine: its first health check finds it serving
