"""Install only Huawei Ascend's driver, firmware and CANN from the operator's package set.

    pyinfra inventory/ascend_a3.py deploys/ascend_packages.py

The same role and steps as deploys/glm52.py (the package set checked before any host is touched,
every installer checked on the host before the first runs, installed versions read from the
files the installers leave, the reboot, CANN's environment for the engine), without the model
and the engine: to prepare NPU nodes ahead of a deploy. The lab tier runs it on a lab node with
stand-in installers (glmstack.lab.ascend) to prove that orchestration; no NPU is involved there.
"""

from pyinfra import host, inventory
from pyinfra.api.exceptions import DeployError

from glmstack.hostdata import InventoryError
from glmstack.ops import ensure_packages
from glmstack.resolve import resolve_inventory
from roles.ascend import operations as ascend
from roles.base.operations import directories, service_user, trust_and_proxies

try:
    plans = resolve_inventory([(each.name, each.data.dict()) for each in inventory])
except InventoryError as error:
    raise DeployError(str(error)) from None
plan = next(each for each in plans if each.host == host.name)
# Not the whole base role: its preflight looks for the accelerator's devices, which a node being
# prepared may not show before its driver is in (and a lab node never does).
ascend.preflight(plan)
ensure_packages("Trust store", ["ca-certificates"])
trust_and_proxies(plan)
service_user(plan)
directories(plan)
ascend.install_ascend(plan)
