"""Install only the pinned engine environments (vLLM and SGLang for NVIDIA), without drivers.

    pyinfra inventory.py deploys/engine_envs.py

The slow lab tier (`make test-slow`) runs this on a lab node to prove the catalog's pins
resolve and install for real. The node has no GPU, so the checks that need the driver
(DeepGEMM's import) are left to the full deploy on GPU hosts; everything else is the same
role, the same environment directories, the same checks.
"""

from pyinfra import host

from glmstack.config import resolve
from glmstack.ops import ensure_packages
from roles.engine import install_engine

ENGINES = ("vllm", "sglang")

data = host.data.dict()
# Not the base role: its preflight rightly refuses a node without the accelerator's GPUs.
ensure_packages("Trust store", ["ca-certificates"])
for engine in ENGINES:
    install_engine(resolve(host.name, {**data, "engine": engine}).engine_env, gpu_checks=False)
