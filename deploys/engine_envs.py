"""Install only the host's pinned engine environment (its `engine`: vLLM or SGLang for NVIDIA),
without drivers.

    pyinfra inventory.py deploys/engine_envs.py

The slow lab tier (`make test-slow`) runs this on a lab node to prove the catalog's pins
resolve and install for real. The node has no GPU, so the checks that need the driver
(DeepGEMM's import) are left to the full deploy on GPU hosts; everything else is the same
role, the same environment directories, the same checks.

With model_fetch_from naming one of the inventory's hosts, that host fetches each environment's
wheels once and the others install from it (roles/model/fanout.py; `make bench-envs`); with host
data `bundle`, every host installs from the bundle instead.
"""

from pyinfra import host, inventory

from glmstack.ops import ensure_packages
from glmstack.resolve import resolve_inventory
from roles.base.operations import bundle_sources, directories, service_user, trust_and_proxies
from roles.engine.operations import install_engine
from roles.model.fanout_operations import finish_serving, start_fetching

# The whole inventory, for the host fetching the packages for the others (none unless named).
plan = next(each for each in resolve_inventory([(each.name, each.data.dict()) for each in inventory])
            if each.host == host.name)
# Not the whole base role: its preflight rightly refuses a node without the accelerator's GPUs.
ensure_packages("Trust store", ["ca-certificates"])
trust_and_proxies(plan)
# The account and directories the host fetching for the others serves them from, as the base role makes them.
service_user(plan)
directories(plan)
# With a bundle, uv and the environment's wheels come from it (its files checked on the host first).
bundle_sources(plan)
serving = start_fetching(plan)
install_engine(plan.engine_env, gpu_checks=False, fanout=plan.fanout)
finish_serving(plan, serving)
