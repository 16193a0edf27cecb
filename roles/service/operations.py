"""service: run the engine as a hardened systemd unit and wait until it reports healthy.

Every unit it runs (the engine, an RPC worker's server, a node's Ray) is a UnitSpec
(roles/service/units.py), rendered by roles/service/render.py from the templates beside it.
"""

from __future__ import annotations

import posixpath
from io import StringIO
from typing import Any
from weakref import WeakKeyDictionary

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, Host, State, StringCommand, deploy, operation
from pyinfra.operations import files, systemd

from glmstack.facts import (
    ApiKeyState,
    EstablishedTo,
    HttpStatus,
    RunningServiceVariable,
    TcpListening,
    UnitNeedsDaemonReload,
    tcp_listening_command,
)
from glmstack.ops import install_step, put_secret
from glmstack.os_packages import FIREWALL_STEP
from glmstack.quoting import shell_word
from glmstack.values import host_port
from roles.model.operations import keeps_weights, restore_weights_functions
from roles.service.render import (
    FINGERPRINT_VARIABLE,
    deployed_fingerprint,
    kept_configuration,
    render_command,
    render_template,
    rendered_files,
    unit_paths,
)
from roles.service.units import UnitSpec, as_unit_spec, serving_unit_spec

DeployPlan = Any  # a glmstack.config.DeployPlan (not imported: the schema imports each role's defaults)


def health_check(unit: UnitSpec | DeployPlan) -> tuple[str, str]:
    """(shell test, what it checks): the engine's health endpoint, a worker's port (RPC, Ray), or
    a headless rank's unit running."""
    unit = as_unit_spec(unit)
    probe = unit.probe
    if probe.kind == "tcp":
        return tcp_listening_command(probe.port), f"{host_port(probe.address, probe.port)} (listening)"
    if probe.kind == "active":
        return f"systemctl is-active --quiet {shell_word(unit.name)}.service", f"{unit.name}.service"
    return f"curl -fsS --max-time 5 -o /dev/null {shell_word(probe.url)}", probe.url


# What systemd says about a unit that stopped, printed with its journal when the wait fails.
UNIT_STATE = ("ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts")
JOURNAL_LINES = 30


def wait_script(unit: UnitSpec | DeployPlan, rollback_host: str | None = None, weights_changed: bool = False,
                weights: str | None = None) -> str:
    """Poll the readiness check until it passes; fail as soon as systemd reports that the unit's
    process has exited, naming the unit and printing its journal's tail.

    With Restart=on-failure a unit whose engine keeps exiting never reaches "failed": between
    attempts it waits in auto-restart (while still activating), and between two polls it may
    already run again. So any of these, read from systemd itself, ends the wait: the unit failed,
    stopped (inactive: a clean exit is not restarted, and ggml-rpc-server exits 0 on an unknown
    argument), stopping, waiting to restart, or restarted (NRestarts, or a new InvocationID,
    since the wait began). A unit restarted before the wait began (a rerun fixing a unit that
    crash-looped) is judged from then on.

    `rollback_host` (the wait after a restart onto a changed configuration, on that host): when
    the unit fails, the files kept for this change (keep_running_configuration) are put back, the
    unit restarts on them (its previous engine environment and weights directory: never removed)
    and is waited for; the last line names the host, the unit, what failed and the rollback's
    outcome. `weights_changed`: the weights (or the accelerator's runtime) were replaced in place in
    this run in place: unless their previous ones were kept for this change, the rolled-back
    engine runs on them, and the line says so. `weights`: the model role's restore_weights and
    drop_kept_weights shell functions (roles/model restore_weights_functions): the wait puts the
    kept weights back with the unit's files, or drops them once the changed engine is ready.

    What is printed holds no secret: the API key reaches the engine only through a root-only
    EnvironmentFile, never its command line; systemd logs neither, and the engines do not print
    the key (the lab's leak test reads the unit's journal for it).
    """
    unit = as_unit_spec(unit)
    check, target = health_check(unit)
    rollback = None
    if rollback_host is not None:
        note = ("; it runs on what this run replaced in place and does not keep (weights fetched again, or "
                "the accelerator's runtime)") if weights_changed else ""
        rollback = {"host": rollback_host, "note": note}
    return render_template("wait-ready.sh.j2", name=unit.name, timeout=unit.ready_timeout, check=check,
                           target=target, state_keys=UNIT_STATE, journal_lines=JOURNAL_LINES, rollback=rollback,
                           weights=weights,
                           kept=kept_configuration(unit), deployed=deployed_fingerprint(unit),
                           call=False).removesuffix("\n")


def keep_script(unit: UnitSpec, running: str) -> str:
    """Keep the files the unit runs with (fingerprint `running`) for the change to this
    configuration (templates/keep-running.sh.j2)."""
    return render_template("keep-running.sh.j2", kept=kept_configuration(unit), unit_path=unit_paths(unit)["unit"],
                           fingerprint_variable=FINGERPRINT_VARIABLE, running=running,
                           deployed=deployed_fingerprint(unit))


def restore_script(unit: UnitSpec, weights: str | None = None) -> str:
    """Put back the files kept for the change to this configuration, without a restart: what a
    host of a stopped rollout runs, so that its files say what it still runs (with `weights`, the
    model role's restore functions: the weights kept for this change too)."""
    return render_template("restore-previous.sh.j2", kept=kept_configuration(unit), deployed=deployed_fingerprint(unit),
                           call=True, weights=weights)


def lost_rpc_workers(unit: UnitSpec) -> list[str]:
    """The RPC workers the running head holds no connection to (one restarted, or came back after
    it stopped): llama.cpp does not reconnect, so the head must restart to use them again."""
    if not unit.rpc_workers:
        return []
    port = int(unit.rpc_workers[0].rsplit(":", 1)[1])
    connected = set(host.get_fact(EstablishedTo, port=port))
    return [worker for worker in unit.rpc_workers if worker not in connected]


def healthy(unit: UnitSpec) -> bool:
    probe = unit.probe
    if probe.kind == "tcp":
        return host.get_fact(TcpListening, port=probe.port)
    if probe.kind == "active":
        return host.get_fact(RunningServiceVariable, unit=f"{unit.name}.service",
                             variable=FINGERPRINT_VARIABLE) is not None
    return host.get_fact(HttpStatus, url=probe.url) == 200


@operation()
def wait_until_healthy(unit: UnitSpec, changed: bool = False):
    """Wait for the unit's readiness check after a (re)start; no-op while it is healthy."""
    if not changed and healthy(unit):
        host.noop(f"{unit.name} is healthy on {health_check(unit)[1]}")
        return
    yield wait_script(unit)


# Per deploy run (its pyinfra State): rollout group -> the host of that group whose restart began
# and did not end ready (one at a time: the restarts run `_serial`).
_restarting: WeakKeyDictionary[State, dict[str, str]] = WeakKeyDictionary()


def _take_down_in_turn(state: State, host: Host, unit: UnitSpec, weights: str | None = None) -> bool:
    """Before a host of a rollout group goes down: refuse while an earlier host of the group did
    not come back ready in this run (its restart failed), putting this host's kept files back so
    that they say what it still runs."""
    restarting = _restarting.setdefault(state, {})
    other = restarting.get(unit.rollout_group)
    if other is not None and other != host.name:
        host.run_shell_command(StringCommand(restore_script(unit, weights)))
        host.log_styled(f"host {host.name}: {unit.name}.service: not restarted: host {other} of rollout group "
                        f"{unit.rollout_group} failed its restart in this run (above), so the rollout stops before "
                        "this host goes down; it still runs its previous configuration", fg="red",
                        log_func=logger.error)
        return False
    restarting[unit.rollout_group] = host.name
    return True


def _back_in_service(state: State, host: Host, unit: UnitSpec) -> bool:
    _restarting.get(state, {}).pop(unit.rollout_group, None)
    return True


@operation()
def keep_running_configuration(unit: UnitSpec, running: str | None):
    """Before a changed configuration is written: keep the files the unit runs with, for the wait
    to put back if the changed unit does not become ready (restart_in_turn)."""
    if not running or running == deployed_fingerprint(unit):
        host.noop(f"{unit.name} runs no other configuration")
        return
    yield keep_script(unit, running)


@operation()
def restart_in_turn(unit: UnitSpec, stale: bool = False, changed: bool = False, weights_changed: bool = False,
                    weights: str | None = None):
    """Restart a unit running a configuration other than the deployed one, and wait until it is
    ready (run host by host: `_serial`). `changed`: a change of configuration (not only a restart):
    if it does not become ready, the host rolls back to the configuration kept for it. Within a
    rollout group, a host does not go down after another failed in this run."""
    if not stale:
        host.noop(f"{unit.name} runs the deployed configuration")
        return
    if unit.rollout_group is not None:
        yield FunctionCommand(_take_down_in_turn, (unit,), {"weights": weights})
    yield f"systemctl restart {shell_word(unit.name)}.service"
    yield wait_script(unit, rollback_host=host.name if changed else None, weights_changed=weights_changed,
                      weights=weights)
    if unit.rollout_group is not None:
        yield FunctionCommand(_back_in_service, (unit,), {})


API_KEY_ID_VARIABLE = "GLMSTACK_API_KEY_ID"


@operation()
def make_api_key(key_file: str, env_file: str, variable: str):
    """A random key made on the host itself, once: it never crosses the network or the deploy's output."""
    if host.get_fact(ApiKeyState, key_file=key_file, env_file=env_file, variable=variable) is not None:
        host.noop(f"{key_file} holds a key")
        return
    yield render_command("make-api-key.sh.j2", key_dir=posixpath.dirname(key_file), key_file=key_file)


@operation()
def write_api_key_environment(key_file: str, env_file: str, variable: str, key_changed: bool = False):
    """The engine's variable (and the key's id, to tell which key a running engine has) from the key file."""
    state = host.get_fact(ApiKeyState, key_file=key_file, env_file=env_file, variable=variable)
    if not key_changed and state and state["env_current"]:
        host.noop(f"{env_file} holds the key")
        return
    yield render_command("api-key-environment.sh.j2", key_file=key_file, env_file=env_file,
                         id_variable=API_KEY_ID_VARIABLE, variable=variable)


def curl_as_client(plan: DeployPlan, url: str, options: str = "-fsS") -> str:
    """A curl command that sends the engine's API key, if it has one, as a client would. The key
    reaches curl on its standard input (printf is a shell builtin): never as a process argument."""
    if plan.api_key is None:
        return f"curl {options} {shell_word(url)}"
    header = "header = \"Authorization: Bearer %s\"\\n"
    return (f"printf '{header}' \"$(cat {shell_word(plan.api_key.key_file)})\" | "
            f"curl --config - {options} {shell_word(url)}")


def install_api_key(unit: UnitSpec) -> bool:
    """Put the key in place; True when the running engine must be restarted to use it."""
    key = unit.api_key
    where = {"key_file": key.key_file, "env_file": key.env_file, "variable": key.variable}
    if key.local_file:
        installed = put_secret(name="Engine API key (0600, root only)", src=str(key.local_file),
                               dest=key.key_file)
    else:
        installed = make_api_key(name="Engine API key (made on the host, 0600, root only)", **where)
    environment = write_api_key_environment(name="Engine API key environment (0600, root only)",
                                            key_changed=installed.will_change, **where)
    if installed.will_change or environment.will_change:
        return True
    state = host.get_fact(ApiKeyState, **where)
    running = host.get_fact(RunningServiceVariable, unit=f"{unit.name}.service", variable=API_KEY_ID_VARIABLE)
    # Also after a run cut off between writing the key and restarting: the engine still has the old one.
    return running is not None and state is not None and running != state["key_id"]


def run_service(plan: DeployPlan, weights_refetched: bool = False) -> None:
    """The host's engine (or, on an RPC worker, its RPC server): run_unit with its UnitSpec."""
    # The weights a change of them kept (roles/model keep_previous_weights): put back on a rollback.
    weights = restore_weights_functions(plan) if keeps_weights(plan) else None
    run_unit(serving_unit_spec(plan), restart=weights_refetched, weights=weights)


@deploy("glmstack service")
def run_unit(unit: UnitSpec, restart: bool = False, weights: str | None = None) -> None:
    """Install and start the unit; restart it whenever it runs anything but this configuration (or
    `restart`: what it reads at start changed, such as its weights).

    The running process is asked, not the files: a run interrupted after writing the unit but
    before restarting still leaves a process that differs, and the next run restarts it.
    """
    paths = unit_paths(unit)
    service = f"{unit.name}.service"
    files.directory(name="Engine home", path=paths["home"], user=unit.user, group=unit.group, mode="700")
    running = host.get_fact(RunningServiceVariable, unit=service, variable=FINGERPRINT_VARIABLE)
    # Before anything of the change is written: what runs, to roll back to if the change fails.
    keep_running_configuration(name=f"Keep {unit.name}'s running configuration until the change is ready",
                               unit=unit, running=running)
    # The very files `glmstack render` shows.
    rendered = rendered_files(unit)
    if unit.firewall:
        install_step(FIREWALL_STEP)
        files.put(name=f"{unit.name}: the deployment's port filter", src=StringIO(rendered[paths["firewall"]][0]),
                  dest=paths["firewall"], user="root", group="root", mode="644")
    env_text, env_mode = rendered[paths["env_file"]]
    unit_text, unit_mode = rendered[paths["unit"]]
    files.put(name="Engine environment file", src=StringIO(env_text), dest=paths["env_file"],
              user="root", group="root", mode=env_mode)
    unit_file = files.put(name="Engine unit", src=StringIO(unit_text), dest=paths["unit"],
                          user="root", group="root", mode=unit_mode)
    key_changed = install_api_key(unit) if unit.api_key else False
    # A change of configuration from one the host could keep (an older unit had no fingerprint).
    changed = bool(running) and running != deployed_fingerprint(unit)
    stale = running is not None and (running != deployed_fingerprint(unit) or key_changed or restart
                                     or lost_rpc_workers(unit))
    # Starts what is not running, everywhere at once; what runs stale is restarted below, in turn.
    started = systemd.service(name=f"Run {unit.name}", service=service, running=True, enabled=True,
                              daemon_reload=unit_file.will_change or host.get_fact(UnitNeedsDaemonReload,
                                                                                   unit=service))
    # A rolling restart: one host at a time, each ready before the next goes down, so a group of
    # replicas keeps serving. Within a multi-node deployment the workers go first and the head
    # last (its start needs them); a Ray cluster's head unit is restarted before its workers'
    # by the Ray role's order instead.
    if unit.rank > 0:
        restart_in_turn(name=f"Restart {unit.name} in turn, ready before the next", unit=unit,
                        stale=stale, changed=changed, weights_changed=restart, weights=weights,
                        _serial=True)
    if unit.rank == 0:
        restart_in_turn(name=f"Restart {unit.name} in turn, ready before the next", unit=unit,
                        stale=stale, changed=changed, weights_changed=restart, weights=weights,
                        _serial=True)
    wait_until_healthy(name=f"Wait for {unit.name} to be healthy", unit=unit,
                       changed=started.will_change and not stale)
