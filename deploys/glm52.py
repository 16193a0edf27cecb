"""Provision a host end to end to serve GLM-5.2 (or GLM-4.5), as its host data describes.

    pyinfra inventory/cpu.py deploys/glm52.py

The whole inventory is validated against the catalog first (deployments span hosts), with the
same code `glmstack plan` runs; a host whose data cannot work stops here, and a host that is not
what its data says (OS, CPU, accelerator devices, Secure Boot) stops in the preflights, all
before any change.

The steps are the roles' (roles/registry.py), phase by phase: preflights, the weights download
started, drivers, engines, the weights waited for, the cluster, the engine's unit (roles/steps.py).
"""

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError

from glmstack.hostdata import InventoryError
from glmstack.inventory import deploy_lock
from glmstack.resolve import resolve_inventory
from roles.registry import deploy_steps
from roles.steps import DeployState

try:
    # The inventory's lock file pins the hub models host data does not (a model it lacks is refused).
    plans = resolve_inventory([(each.name, each.data.dict()) for each in inventory], lock=deploy_lock())
except InventoryError as error:
    raise DeployError(str(error)) from None
plan = next(each for each in plans if each.host == host.name)

# Preflights raise while pyinfra prepares the deploy, so no host has been changed yet.
state = DeployState()
for step in host.loop(deploy_steps()):
    step.run(plan, state)
