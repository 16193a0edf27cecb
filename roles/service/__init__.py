"""service: run the engine as a hardened systemd unit and wait until it reports healthy."""

from __future__ import annotations

import posixpath
from io import StringIO
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
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
from glmstack.ops import ensure_packages, put_secret
from glmstack.quoting import shell_word
from glmstack.render import FINGERPRINT_VARIABLE, deployed_fingerprint, rendered_files, unit_paths
from glmstack.values import host_port

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.config import DeployPlan


def health_check(plan: DeployPlan) -> tuple[str, str]:
    """(shell test, what it checks): the engine's health endpoint, a worker's port (RPC, Ray), or
    a headless rank's unit running."""
    if plan.probe == "tcp":
        return tcp_listening_command(plan.port), f"{host_port(plan.listen_address, plan.port)} (listening)"
    if plan.probe == "active":
        return f"systemctl is-active --quiet {shell_word(plan.unit_name)}.service", f"{plan.unit_name}.service"
    return f"curl -fsS --max-time 5 -o /dev/null {shell_word(plan.health_url)}", plan.health_url


# What systemd says about a unit that stopped, printed with its journal when the wait fails.
UNIT_STATE = ("ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts")
JOURNAL_LINES = 30


def wait_script(plan: DeployPlan) -> str:
    """Poll the readiness check until it passes; fail as soon as systemd reports that the unit's
    process has exited, naming the unit and printing its journal's tail.

    With Restart=on-failure a unit whose engine keeps exiting never reaches "failed": between
    attempts it waits in auto-restart (while still activating), and between two polls it may
    already run again. So any of these, read from systemd itself, ends the wait: the unit failed,
    stopped (inactive: a clean exit is not restarted, and ggml-rpc-server exits 0 on an unknown
    argument), stopping, waiting to restart, or restarted (NRestarts, or a new InvocationID,
    since the wait began). A unit restarted before the wait began (a rerun fixing a unit that
    crash-looped) is judged from then on.

    What is printed holds no secret: the API key reaches the engine only through a root-only
    EnvironmentFile, never its command line; systemd logs neither, and the engines do not print
    the key (the lab's leak test reads the unit's journal for it).
    """
    timeout = plan.ready_timeout
    unit = shell_word(f"{plan.unit_name}.service")
    check, target = health_check(plan)
    state = " ".join(f"-p {key}" for key in UNIT_STATE)
    return "\n".join([
        f"state() {{ systemctl show --value -p \"$1\" {unit}; }}",
        "invocation=$(state InvocationID); restarts=$(state NRestarts)",
        f"deadline=$(( $(date +%s) + {timeout} ))",
        "while :; do",
        f"  if {check}; then exit 0; fi",
        "  now=$(state ActiveState)/$(state SubState)",
        "  case $now in failed/*|inactive/*|deactivating/*|*/auto-restart*)",
        "    why=\"its process exited ($now)\"; break;; esac",
        "  if [ \"$(state NRestarts)\" != \"$restarts\" ] || [ \"$(state InvocationID)\" != \"$invocation\" ]; then",
        "    why='its process exited and systemd restarted it'; break; fi",
        f"  if [ $(date +%s) -ge $deadline ]; then why='it did not become ready within {timeout}s'; break; fi",
        "  sleep 2",
        "done",
        # Host data (the address in the target) stays data: quoted, never inside double quotes.
        f"printf '%s: %s; not ready on %s\\n' {unit} \"$why\" {shell_word(target)} >&2",
        f"printf '%s: %s\\n' {unit} \"$(systemctl show {state} {unit} | tr '\\n' ' ')\" >&2",
        f"printf '%s: the last {JOURNAL_LINES} lines of its journal:\\n' {unit} >&2",
        f"journalctl -u {unit} -n {JOURNAL_LINES} --no-pager >&2",
        "exit 1",
    ])


def lost_rpc_workers(plan: DeployPlan) -> list[str]:
    """The RPC workers the running head holds no connection to (one restarted, or came back after
    it stopped): llama.cpp does not reconnect, so the head must restart to use them again."""
    if not plan.rpc_workers:
        return []
    port = int(plan.rpc_workers[0].rsplit(":", 1)[1])
    connected = set(host.get_fact(EstablishedTo, port=port))
    return [worker for worker in plan.rpc_workers if worker not in connected]


def healthy(plan: DeployPlan) -> bool:
    if plan.probe == "tcp":
        return host.get_fact(TcpListening, port=plan.port)
    if plan.probe == "active":
        return host.get_fact(RunningServiceVariable, unit=f"{plan.unit_name}.service",
                             variable=FINGERPRINT_VARIABLE) is not None
    return host.get_fact(HttpStatus, url=plan.health_url) == 200


@operation()
def wait_until_healthy(plan: DeployPlan, changed: bool = False):
    """Wait for the engine's health endpoint after a (re)start; no-op while it is healthy."""
    if not changed and healthy(plan):
        host.noop(f"{plan.unit_name} is healthy on {health_check(plan)[1]}")
        return
    yield wait_script(plan)


@operation()
def restart_in_turn(plan: DeployPlan, stale: bool = False):
    """Restart a unit running a configuration other than the deployed one, and wait until it is
    ready (run host by host: `_serial`)."""
    if not stale:
        host.noop(f"{plan.unit_name} runs the deployed configuration")
        return
    yield f"systemctl restart {shell_word(plan.unit_name)}.service"
    yield wait_script(plan)


API_KEY_ID_VARIABLE = "GLMSTACK_API_KEY_ID"


@operation()
def make_api_key(key_file: str, env_file: str, variable: str):
    """A random key made on the host itself, once: it never crosses the network or the deploy's output."""
    if host.get_fact(ApiKeyState, key_file=key_file, env_file=env_file, variable=variable) is not None:
        host.noop(f"{key_file} holds a key")
        return
    yield (f"umask 077; mkdir -p {shell_word(posixpath.dirname(key_file))}; "
           f"head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {shell_word(key_file)}.new && "
           f"echo >> {shell_word(key_file)}.new && mv {shell_word(key_file)}.new {shell_word(key_file)}")


@operation()
def write_api_key_environment(key_file: str, env_file: str, variable: str, key_changed: bool = False):
    """The engine's variable (and the key's id, to tell which key a running engine has) from the key file."""
    state = host.get_fact(ApiKeyState, key_file=key_file, env_file=env_file, variable=variable)
    if not key_changed and state and state["env_current"]:
        host.noop(f"{env_file} holds the key")
        return
    key, env = shell_word(key_file), shell_word(env_file)
    yield (f"umask 077; k=$(cat {key}); id=$(printf %s \"$k\" | sha256sum | cut -c1-16); "
           f"printf '{API_KEY_ID_VARIABLE}=%s\\n{variable}=%s\\n' \"$id\" \"$k\" > {env}.new && "
           f"chown root:root {env}.new && mv {env}.new {env}")


def curl_as_client(plan: DeployPlan, url: str, options: str = "-fsS") -> str:
    """A curl command that sends the engine's API key, if it has one, as a client would. The key
    reaches curl on its standard input (printf is a shell builtin): never as a process argument."""
    if plan.api_key is None:
        return f"curl {options} {shell_word(url)}"
    header = "header = \"Authorization: Bearer %s\"\\n"
    return (f"printf '{header}' \"$(cat {shell_word(plan.api_key.key_file)})\" | "
            f"curl --config - {options} {shell_word(url)}")


def install_api_key(plan: DeployPlan) -> bool:
    """Put the key in place; True when the running engine must be restarted to use it."""
    key = plan.api_key
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
    running = host.get_fact(RunningServiceVariable, unit=f"{plan.unit_name}.service", variable=API_KEY_ID_VARIABLE)
    # Also after a run cut off between writing the key and restarting: the engine still has the old one.
    return running is not None and state is not None and running != state["key_id"]


@deploy("glmstack service")
def run_service(plan: DeployPlan, weights_refetched: bool = False) -> None:
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
    if plan.cluster_ports:
        ensure_packages("nftables, for the deployment's port filter", ["nftables"])
        files.put(name=f"{plan.unit_name}: the deployment's port filter", src=StringIO(rendered[paths["firewall"]][0]),
                  dest=paths["firewall"], user="root", group="root", mode="644")
    env_text, env_mode = rendered[paths["env_file"]]
    unit_text, unit_mode = rendered[paths["unit"]]
    files.put(name="Engine environment file", src=StringIO(env_text), dest=paths["env_file"],
              user="root", group="root", mode=env_mode)
    unit = files.put(name="Engine unit", src=StringIO(unit_text), dest=paths["unit"],
                     user="root", group="root", mode=unit_mode)
    key_changed = install_api_key(plan) if plan.api_key else False
    running = host.get_fact(RunningServiceVariable, unit=service, variable=FINGERPRINT_VARIABLE)
    stale_engine = running is not None and (running != deployed_fingerprint(plan) or key_changed or weights_refetched
                                            or lost_rpc_workers(plan))
    # Starts what is not running, everywhere at once; what runs stale is restarted below, in turn.
    started = systemd.service(name=f"Run {plan.unit_name}", service=service, running=True, enabled=True,
                              daemon_reload=unit.will_change or host.get_fact(UnitNeedsDaemonReload, unit=service))
    # A rolling restart: one host at a time, each ready before the next goes down, so a group of
    # replicas keeps serving. Within a multi-node deployment the workers go first and the head
    # last (its start needs them); a Ray cluster's head unit is restarted before its workers'
    # by the Ray role's order instead.
    if plan.rank > 0:
        restart_in_turn(name=f"Restart {plan.unit_name} in turn, ready before the next", plan=plan,
                        stale=stale_engine, _serial=True)
    if plan.rank == 0:
        restart_in_turn(name=f"Restart {plan.unit_name} in turn, ready before the next", plan=plan,
                        stale=stale_engine, _serial=True)
    wait_until_healthy(name=f"Wait for {plan.unit_name} to be healthy", plan=plan,
                       changed=started.will_change and not stale_engine)
