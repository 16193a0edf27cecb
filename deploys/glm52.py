"""Provision a host end to end to serve GLM-5.2 (or GLM-4.5), as its host data describes.

    pyinfra inventory/cpu.py deploys/glm52.py

The whole inventory is validated against the catalog first (deployments span hosts), with the
same code `glmstack plan` runs; a host whose data cannot work stops here, and a host that is not
what its data says (OS, CPU, accelerator devices, Secure Boot) stops in the preflights, all
before any change.
"""

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError

from glmstack.config import InventoryError, resolve_inventory
from roles import amd, ascend, base, nvidia
from roles.engine import install_engine
from roles.llamacpp import install_llamacpp
from roles.model import finish_model_download, graft_weights, start_model_download, weights_parts
from roles.ray import form_cluster
from roles.service import run_service

try:
    plans = resolve_inventory([(each.name, each.data.dict()) for each in inventory])
except InventoryError as error:
    raise DeployError(str(error)) from None
plan = next(each for each in plans if each.host == host.name)

# Preflights raise while pyinfra prepares the deploy, so no host has been changed yet.
base.install_base(plan)  # its preflight first: OS, CPU, accelerator devices, engine installable
if plan.nvidia is not None:
    nvidia.preflight(plan)
if plan.amd is not None:
    amd.preflight(plan)
if plan.ascend is not None:
    ascend.preflight(plan)
# The weights download runs as its own unit while drivers and engines install (it dominates the
# time to serve); a reboot for the driver interrupts it, and the wait below starts it again.
# (A grafted model's two parts each download this way.)
weights = weights_parts(plan)
unit_files_changed = [start_model_download(part) for part in host.loop(weights)]
if plan.nvidia is not None:
    nvidia.install_nvidia(plan)
if plan.amd is not None:
    amd.install_amd(plan)
cann_environment_changed = ascend.install_ascend(plan) if plan.ascend is not None else False
# The driver runs by now; HCCL needs the NPUs' RoCE ports before the engine starts.
roce_changed = ascend.configure_roce(plan) if plan.ascend is not None else False
if plan.llamacpp is not None:
    install_llamacpp(plan)
if plan.engine_env is not None:
    install_engine(plan.engine_env)
weights_refetched = any([finish_model_download(part, reload=changed)
                         for part, changed in host.loop(list(zip(weights, unit_files_changed, strict=True)))])
if plan.model.graft is not None:
    weights_refetched = graft_weights(plan, parts_refetched=weights_refetched) or weights_refetched
if plan.ray is not None:
    form_cluster(plan)  # every node; the head waits for them all
if plan.ray is None or plan.rank == 0:  # a Ray worker runs no engine unit: the head drives it
    run_service(plan, weights_refetched=weights_refetched or cann_environment_changed or roce_changed)
