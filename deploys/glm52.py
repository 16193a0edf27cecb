"""Provision a host end to end to serve GLM-5.2 (or GLM-4.5), as its host data describes.

    pyinfra inventory/cpu.py deploys/glm52.py

Host data is validated against the catalog first; a host whose data cannot work stops here
with a message naming the field, before any operation is queued for it.
"""

from pyinfra import host
from pyinfra.api.exceptions import DeployError

from glmstack.config import HostDataError, resolve
from roles.base import install_base
from roles.llamacpp import install_llamacpp
from roles.model import install_model
from roles.service import run_service

try:
    plan = resolve(host.name, host.data.dict())
except HostDataError as error:
    raise DeployError(str(error)) from None

install_base(plan)
if plan.llamacpp is not None:
    install_llamacpp(plan)
install_model(plan)
run_service(plan)
