"""Install only the pinned engine environments (vLLM and SGLang for NVIDIA), without drivers.

    pyinfra inventory.py deploys/engine_envs.py

The slow lab tier (`make test-slow`) runs this on a lab node to prove the catalog's pins
resolve and install for real. The node has no GPU, so the checks that need the driver
(DeepGEMM's import) are left to the full deploy on GPU hosts; everything else is the same
role, the same environment directories, the same checks.

With model_fetch_from naming one of the inventory's hosts, that host fetches each environment's
wheels once and the others install from it (roles/model/fanout.py; `make bench-envs`).
"""

from pyinfra import host, inventory

from glmstack.ops import ensure_packages
from glmstack.resolve import resolve_inventory
from roles.base.operations import trust_and_proxies
from roles.engine.operations import install_engine
from roles.model.fanout_operations import finish_serving, start_fetching

data = host.data.dict()
engines = data.get("lab_engines") or ["vllm", "sglang"]
# The whole inventory, for the host fetching the packages for the others (none unless named).
def host_data(each, engine: str) -> dict:
    return {**{key: value for key, value in each.data.dict().items() if key != "lab_engines"}, "engine": engine}


plans = [next(plan for plan in resolve_inventory([(each.name, host_data(each, engine)) for each in inventory])
              if plan.host == host.name) for engine in engines]
# Not the whole base role: its preflight rightly refuses a node without the accelerator's GPUs.
ensure_packages("Trust store", ["ca-certificates"])
trust_and_proxies(plans[0])
for plan in plans:
    serving = start_fetching(plan)
    install_engine(plan.engine_env, gpu_checks=False, fanout=plan.fanout)
    finish_serving(plan, serving)
