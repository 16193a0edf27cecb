"""service: run the engine as a hardened systemd unit and wait until it reports healthy."""

from __future__ import annotations

import shlex
from io import StringIO
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.operations import files, systemd

from glmstack.facts import HttpStatus, RunningServiceVariable, UnitNeedsDaemonReload
from glmstack.render import FINGERPRINT_VARIABLE, deployed_fingerprint, rendered_files, unit_paths

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.config import DeployPlan


def wait_script(plan: DeployPlan) -> str:
    """Poll the health endpoint; on timeout print the unit's journal so the failure explains itself."""
    timeout = plan.ready_timeout
    unit = shlex.quote(f"{plan.unit_name}.service")
    url = shlex.quote(plan.health_url)
    return "\n".join([
        f"deadline=$(( $(date +%s) + {timeout} ))",
        "while [ $(date +%s) -lt $deadline ]; do",
        f"  if curl -fsS --max-time 5 -o /dev/null {url}; then exit 0; fi",
        f"  if systemctl is-failed --quiet {unit}; then break; fi",
        "  sleep 2",
        "done",
        f"echo '{plan.unit_name} did not become healthy on {plan.health_url} within {timeout}s' >&2",
        f"journalctl -u {unit} -n 60 --no-pager >&2",
        "exit 1",
    ])


@operation()
def wait_until_healthy(plan: DeployPlan, changed: bool = False):
    """Wait for the engine's health endpoint after a (re)start; no-op while it is healthy."""
    if not changed and host.get_fact(HttpStatus, url=plan.health_url) == 200:
        host.noop(f"{plan.unit_name} is healthy on {plan.health_url}")
        return
    yield wait_script(plan)


@deploy("glmstack service")
def run_service(plan: DeployPlan) -> None:
    """Install and start the unit; restart the engine whenever it runs anything but this configuration.

    The running process is asked, not the files: a run interrupted after writing the unit but
    before restarting still leaves an engine that differs, and the next run restarts it.
    """
    paths = unit_paths(plan)
    service = f"{plan.unit_name}.service"
    config = plan.config
    files.directory(name="Engine home", path=paths["home"], user=config.base_service_user,
                    group=config.base_service_group, mode="700")
    # The very files `glmstack render` shows.
    rendered = rendered_files(plan)
    env_text, env_mode = rendered[paths["env_file"]]
    unit_text, unit_mode = rendered[paths["unit"]]
    files.put(name="Engine environment file", src=StringIO(env_text), dest=paths["env_file"],
              user="root", group="root", mode=env_mode)
    unit = files.put(name="Engine unit", src=StringIO(unit_text), dest=paths["unit"],
                     user="root", group="root", mode=unit_mode)
    running = host.get_fact(RunningServiceVariable, unit=service, variable=FINGERPRINT_VARIABLE)
    stale_engine = running is not None and running != deployed_fingerprint(plan)
    started = systemd.service(name=f"Run {plan.unit_name}", service=service, running=True, enabled=True,
                              daemon_reload=unit.will_change or host.get_fact(UnitNeedsDaemonReload, unit=service),
                              restarted=stale_engine)
    wait_until_healthy(name=f"Wait for {plan.unit_name} to be healthy", plan=plan,
                       changed=started.will_change)
