"""Install only the pinned engine environments (vLLM and SGLang for NVIDIA), without drivers.

    pyinfra inventory.py deploys/engine_envs.py

The slow lab tier (`make test-slow`) runs this on a lab node to prove the catalog's pins
resolve and install for real. The node has no GPU, so the checks that need the driver
(DeepGEMM's import) are left to the full deploy on GPU hosts; everything else is the same
role, the same environment directories, the same checks.
"""

from pyinfra import host

from glmstack.ops import ensure_packages
from glmstack.resolve import resolve
from roles.base.operations import trust_and_proxies
from roles.engine.operations import install_engine

data = host.data.dict()
engines = data.get("lab_engines") or ["vllm", "sglang"]
plans = [resolve(host.name, {**data, "engine": engine}) for engine in engines]
# Not the whole base role: its preflight rightly refuses a node without the accelerator's GPUs.
ensure_packages("Trust store", ["ca-certificates"])
trust_and_proxies(plans[0])
for plan in plans:
    install_engine(plan.engine_env, gpu_checks=False)
