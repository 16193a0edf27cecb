"""Provision a host end to end to serve GLM-5.2 (or GLM-4.5), as its host data describes.

    pyinfra inventory/cpu.py deploys/glm52.py

The whole inventory is validated against the catalog first (deployments span hosts), with the
same code `glmstack plan` runs; a host whose data cannot work stops here, before any change.
"""

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError

from glmstack.config import InventoryError, resolve_inventory
from roles.base import install_base
from roles.llamacpp import install_llamacpp
from roles.model import install_model
from roles.service import run_service

try:
    plans = resolve_inventory([(each.name, each.data.dict()) for each in inventory])
except InventoryError as error:
    raise DeployError(str(error)) from None
plan = next(each for each in plans if each.host == host.name)
if not plan.engine_installable:
    raise DeployError(f"host {host.name}: engine {plan.engine_name} can be planned (glmstack plan, glmstack "
                      "render) but glmstack cannot install it yet; installable today: llama.cpp")

install_base(plan)
if plan.llamacpp is not None:
    install_llamacpp(plan)
install_model(plan)
run_service(plan)
