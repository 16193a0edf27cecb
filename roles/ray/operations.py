"""ray: the deployment's Ray cluster, one `ray start --block` unit per node.

The head's unit starts first, then the workers' (each waits for the head's GCS at every start,
so a reboot in any order comes back together); the head then waits until the cluster has every
node of the deployment, naming those it lacks, before anything starts on it.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.operations import files

from glmstack.facts import RayClusterLacks
from glmstack.quoting import shell_word
from roles.service.operations import run_unit
from roles.service.units import NODE_WAIT_SECONDS, ray_nodes_command, ray_nodes_script, ray_unit_spec

DeployPlan = Any  # a glmstack.config.DeployPlan (not imported: the schema imports each role's defaults)

RAY_NODES = Path(__file__).resolve().parent / "files" / "ray_nodes.py"


@operation()
def wait_for_every_node(plan: DeployPlan, python: str):
    """On the head: wait until the cluster has every node of the deployment, or fail naming them."""
    if not host.get_fact(RayClusterLacks, check=ray_nodes_command(plan, python)):
        host.noop(f"the Ray cluster of {plan.ray.gcs} has all {len(plan.ray.nodes)} nodes")
        return
    yield " ".join(shell_word(word) for word in ray_nodes_command(plan, python, wait=NODE_WAIT_SECONDS))


@deploy("glmstack Ray cluster")
def form_cluster(plan: DeployPlan, environment: str | None = None) -> None:
    """Every node's Ray unit from `environment` (the engine's, unless given), the head's first."""
    unit = ray_unit_spec(plan, environment)
    files.put(name="Ray cluster check", src=str(RAY_NODES), dest=ray_nodes_script(plan),
              user="root", group="root", mode="644", create_remote_dir=True)
    # Two call sites: pyinfra runs an operation on every host before the next, so the head's unit
    # is up before any worker's starts.
    if plan.rank == 0:
        run_unit(unit)
    if plan.rank > 0:
        run_unit(unit)
    if plan.rank == 0:
        # The Python of the environment Ray runs from, which has the GCS client the check uses.
        python = posixpath.join(posixpath.dirname(unit.argv[0]), "python")
        wait_for_every_node(name="Wait for every node of the Ray cluster", plan=plan, python=python)
