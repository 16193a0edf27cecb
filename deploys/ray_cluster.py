"""Form the Ray cluster of each Ray deployment in the inventory, with Ray alone: no driver, no engine.

    pyinfra inventory/h100.py deploys/ray_cluster.py

A rehearsal of the network before the accelerators' stack: the same units, ports, filter and
start order `deploys/glm52.py` gives the cluster, from an environment holding only the pinned
Ray, so that `ray status` on the head proves every node reaches it on the addresses and NIC the
inventory names. The accelerator devices are not required (the base role's other checks still
run); the full deploy later runs Ray from the engine's environment instead, which replaces
these units. The lab proves the cluster on three nodes with it.
"""

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError

from glmstack.hostdata import InventoryError
from glmstack.resolve import resolve_inventory
from glmstack.topology import ray_environment
from roles.base import operations as base
from roles.engine.operations import install_engine
from roles.ray.operations import form_cluster

try:
    plans = resolve_inventory([(each.name, each.data.dict()) for each in inventory])
except InventoryError as error:
    raise DeployError(str(error)) from None
plan = next(each for each in plans if each.host == host.name)
if plan.ray is None:
    raise DeployError(f"host {host.name}: its recipe ({plan.engine_name} {plan.recipe_variant}, deployment "
                      f"{plan.deployment or 'none'}) runs no Ray cluster")

base.install_base(plan, devices=False)
environment = ray_environment(plan)
install_engine(environment, gpu_checks=False)
form_cluster(plan, environment=environment.directory)
