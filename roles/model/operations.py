"""model: put the model's weights in a fixed place on the host, verified, and mark them ready."""

from __future__ import annotations

import dataclasses
import posixpath
import shlex
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING

import gevent
from pyinfra import host, inventory, logger
from pyinfra.api import FunctionCommand, StringCommand, deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.operations import files, server

from glmstack.bundle import BundleError, host_directory
from glmstack.bundle_weights import bundled_files, takes_weights
from glmstack.facts import WeightsState, files_signature_command
from glmstack.ops import CURL_DOWNLOAD, install_step, put_secret
from glmstack.os_packages import package_step
from glmstack.quoting import exec_word, shell_word, unit_setting
from glmstack.templating import role_templates
from glmstack.uv import ensure_uv_commands, uv_binary
from roles.base.operations import bundle_manifest
from roles.model.plan import HUB_CLIENTS  # the plan's: glmstack.os_packages reads them too

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan

VERIFY_HUB = Path(__file__).resolve().parent / "files" / "verify_hub.py"
# What the role writes to a host is a template in its folder (glmstack.templating).
_templates = role_templates(__file__)
# This role's templates' short names for three of glmstack.quoting's filters.
_templates.filters.update(unit_text=unit_setting, unit_word=exec_word, sh=shell_word)
# Who fetches the weights: an unprivileged user of its own, in the service group, so that the engine
# (the service user) reads the weights but cannot change them, and the download tools run as nobody
# that matters. Weights given as a path on the host are only read: checked as the service user, by
# exactly the rights the engine will have.
WEIGHTS_USER = "glmstack-weights"


def ready_marker(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_state_dir, "models", f"{plan.config.model}.ready")


def fetch_lock(plan: DeployPlan) -> str:
    return ready_marker(plan) + ".lock"


def token_path(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_config_dir, HUB_CLIENTS[plan.model.kind].token_name)


def hub_cli(plan: DeployPlan) -> str:
    client = HUB_CLIENTS[plan.model.kind]
    return posixpath.join(plan.config.base_prefix, "venvs", client.venv, "bin", client.command)


def weights_user(plan: DeployPlan) -> str:
    return plan.config.base_service_user if plan.model.kind == "path" else WEIGHTS_USER


def verify_hub_script(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_prefix, "lib", "verify_hub.py")


def locked_files_path(plan: DeployPlan) -> str:
    """The lock file's files and sums for this model (glmstack lock): the checker reads them instead of
    listing the hub."""
    return posixpath.join(plan.config.base_prefix, "lib", f"weights-{plan.config.model}.locked.json")


def weights_signature_file(plan: DeployPlan) -> str:
    return ready_marker(plan) + ".files"


# glmstack's own files inside the model directory, beside the weights.
META = ".cache/glmstack"
# Every file's sha256 (sha256sum's format): what a host passing the weights on serves last, and
# what the receiving hosts check each file against.
MANIFEST = f"{META}/manifest"
# While a host passing the weights on fetches them: the total size first, then a manifest line for
# each file as soon as it is verified, so the receiving hosts fetch it while the rest arrive.
TOTAL = f"{META}/total"
ARRIVED = f"{META}/arrived"
# Written when that fetch fails, so the receiving hosts stop waiting and say so.
FAILED = f"{META}/failed"
# Which weights it serves (their fingerprint): a receiving host takes nothing from a server left
# running with other weights.
SERVING = f"{META}/weights"


def progress_file(plan: DeployPlan) -> str:
    # In the weights' directory: the only place the fetch may write.
    return posixpath.join(plan.model.directory, META, "progress")


def weights_unit(plan: DeployPlan) -> str:
    return f"glmstack-weights-{plan.config.model}.service"


def weights_script(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_prefix, "lib", f"fetch-weights-{plan.config.model}.sh")


def bundled_weights(plan: DeployPlan) -> dict | None:
    """Where this host's weights are in its bundle, on the host, and each file's sums, when its bundle
    carries them (glmstack bundle --weights; glmstack.bundle_weights), else None: from the source."""
    if plan.config.bundle is None or not takes_weights(plan):
        return None
    taken = bundle_manifest(plan)  # read once per host, with the base role's files
    part = taken["needs"].weights
    if not part:
        return None
    try:
        files_ = bundled_files(plan, taken["document"], part)
    except BundleError as error:
        raise DeployError(f"host {host.name}: field bundle: {error}") from None
    return {"directory": posixpath.join(host_directory(plan.config.base_prefix), part), "files": files_}


def _runs_hub_client(plan: DeployPlan, bundled: dict | None) -> bool:
    """Whether the weights unit fetches with the hub's client: a hub model this host fetches itself,
    not received from another host nor taken from its bundle."""
    return plan.model.kind in HUB_CLIENTS and not plan.weights_seed and not bundled


def _hub_values(plan: DeployPlan, bundled: dict | None = None) -> dict | None:
    """What the hub client's lines in the fetch script are made of (templates/fetch-weights.sh.j2,
    each value quoted there), or None for other sources (and weights taken from a bundle)."""
    model = plan.model
    if not _runs_hub_client(plan, bundled):
        return None
    client, prefix = HUB_CLIENTS[model.kind], plan.config.base_prefix
    bundle_dir = host_directory(prefix) if plan.config.bundle else None
    return {
        "kind": model.kind, "cli": hub_cli(plan), "repo": model.source.split("://", 1)[1],
        "revision": model.revision,
        "patterns": [*(("--include", p) for p in model.include), *(("--exclude", p) for p in model.exclude)],
        "python": posixpath.join(posixpath.dirname(hub_cli(plan)), "python"), "verify_script": verify_hub_script(plan),
        # ModelScope's client fetches 4 files at once unless told; Hugging Face's picks its own number.
        "workers": plan.config.model_download_jobs if model.kind == "modelscope" else None,
        "endpoint_variable": client.endpoint_variable, "endpoint": model.endpoint,
        # A token stays in its 0600 file (which systemd hands to the unit alone as a credential),
        # never on a command line.
        "token_name": client.token_name if model.token_file else None,
        # The client's own uv environment, made once (as root, before the fetch).
        "uv_commands": ensure_uv_commands(prefix, bundle_dir), "uv": uv_binary(prefix),
        "env": f"{prefix}/venvs/{client.venv}", "package": client.package,
        # With a bundle: the client from its wheels (python/<venv>-cpXY-<platform>/), offline.
        "bundle_python": posixpath.join(bundle_dir, "python") if bundle_dir else None, "set_name": client.venv,
        # glmstack lock's files and sums: the checker reads them instead of listing the hub.
        "locked": locked_files_path(plan) if model.locked is not None else None,
    }


def fetch_script(plan: DeployPlan, bundled: dict | None = None) -> str:
    """The weights unit's script (templates/fetch-weights.sh.j2), in three steps: `prepare` and
    `finish` run as root outside the sandbox (the directory handed to the fetching user, the hub
    client installed, the server passing the weights on started; the ready marker), `fetch` as that
    user inside it. `bundled` (bundled_weights): the files are taken from the host's bundle instead."""
    model = plan.model
    hub = _hub_values(plan, bundled)
    return _templates.get_template("fetch-weights.sh.j2").render(
        model=plan.config.model, unit=weights_unit(plan), user=weights_user(plan),
        group=plan.config.base_service_group, kind=model.kind, directory=model.directory,
        marker=ready_marker(plan), signature=weights_signature_file(plan), lock=fetch_lock(plan),
        progress=progress_file(plan), fingerprint=model.fingerprint, share=share_unit(plan),
        signature_command=files_signature_command(model.directory), peers=bool(plan.weights_peers),
        seed=plan.weights_seed, share_url=plan.weights_share_url if plan.weights_seed else None,
        timeout=plan.config.model_fetch_from_timeout, jobs=plan.config.model_download_jobs,
        source=model.source, files=model.files, entry=model.entry, hub=hub, bundled=bundled,
        curl_download=CURL_DOWNLOAD,
        meta={"dir": META, "manifest": MANIFEST, "total": TOTAL, "arrived": ARRIVED, "failed": FAILED,
              "serving": SERVING})


def weights_unit_text(plan: DeployPlan, bundled: dict | None = None) -> str:
    hub = _runs_hub_client(plan, bundled)
    token = None
    if hub and plan.model.token_file:
        token = {"name": HUB_CLIENTS[plan.model.kind].token_name, "path": token_path(plan)}
    writable = [] if plan.model.kind == "path" else [plan.model.directory]
    return _templates.get_template("weights.service.j2").render(
        model=plan.config.model, user=weights_user(plan), group=plan.config.base_service_group,
        peers=bool(plan.weights_peers), hub=hub,
        script=weights_script(plan), token=token, writable=[*writable, fetch_lock(plan)],
        # RemoveIPC= clears the user's IPC objects when the unit stops: never the engine's.
        remove_ipc=weights_user(plan) != plan.config.base_service_user)


def share_unit_text(plan: DeployPlan) -> str:
    return _templates.get_template("weights-share.service.j2").render(
        model=plan.config.model, peers=[name for name, _ in plan.weights_peers],
        user=plan.config.base_service_user, group=plan.config.base_service_group,
        address=plan.config.address or plan.host, directory=plan.model.directory, port=plan.config.model_share_port,
        writable=[], remove_ipc=False)


def weights_ready(plan: DeployPlan) -> bool:
    state = host.get_fact(WeightsState, marker=ready_marker(plan), signature_file=weights_signature_file(plan),
                          directory=plan.model.directory)
    return state["fingerprint"] == plan.model.fingerprint and state["intact"]


@dataclass(frozen=True)
class KeptWeights:
    """Where a host keeps the weights of a model directory while a change of them is tried: a
    hard-linked copy beside the directory, and a root-only record (their ready marker, signature,
    and `for`: the fingerprint of the weights they were kept for)."""

    directory: str
    copy: str
    record: str


def kept_weights(plan: DeployPlan) -> KeptWeights:
    directory = plan.model.directory.rstrip("/")
    return KeptWeights(directory, f"{directory}.previous",
                       posixpath.join(plan.config.base_state_dir, "models", "previous", plan.config.model))


def keep_weights_script(plan: DeployPlan) -> str:
    kept = kept_weights(plan)
    return _templates.get_template("keep-weights.sh.j2").render(
        directory=kept.directory, copy=kept.copy, record=kept.record, marker=ready_marker(plan),
        model=plan.config.model, signature=weights_signature_file(plan),
        signature_command=files_signature_command(kept.directory),
        fingerprint=plan.model.fingerprint).strip() + "\n"


def restore_weights_functions(plan: DeployPlan) -> str:
    """The shell functions restore_weights and drop_kept_weights (templates/restore-weights.sh.j2),
    for the engine's wait after a change of these weights."""
    kept = kept_weights(plan)
    return _templates.get_template("restore-weights.sh.j2").render(
        directory=kept.directory, copy=kept.copy, record=kept.record, replaced=f"{kept.directory}.replaced",
        marker=ready_marker(plan), signature=weights_signature_file(plan),
        fingerprint=plan.model.fingerprint).strip() + "\n"


def keeps_weights(plan: DeployPlan) -> bool:
    """Whether this model's weights are fetched into a directory of glmstack's (not a path given on
    the host, not an RPC worker's), so that a change of them can be kept and rolled back."""
    return plan.model.kind != "path" and not plan.rpc_worker


@operation()
def keep_previous_weights(plan: DeployPlan):
    """Before other weights are fetched into the model directory: keep the verified ones there now
    (templates/keep-weights.sh.j2), until the engine on the new ones is ready."""
    state = host.get_fact(WeightsState, marker=ready_marker(plan), signature_file=weights_signature_file(plan),
                          directory=plan.model.directory)
    if not state["fingerprint"] or not state["intact"] or state["fingerprint"] == plan.model.fingerprint:
        host.noop(f"model {plan.config.model}: no other verified weights to keep")
        return
    yield keep_weights_script(plan)


@deploy("glmstack model")
def keep_weights(plan: DeployPlan) -> None:
    """First of the model's steps: keep the weights a change of them replaces (keep_previous_weights)."""
    if keeps_weights(plan):
        keep_previous_weights(name=f"Keep {plan.config.model}'s verified weights until the change is ready",
                              plan=plan)


@operation()
def start_fetching(plan: DeployPlan, reload: bool = False):
    """Start the weights unit unless the weights are in place or it is already at work."""
    unit = weights_unit(plan)
    if weights_ready(plan):
        host.noop(f"model {plan.config.model} is already in place and verified")
        return
    if reload:
        yield "systemctl daemon-reload"
    # --no-block: the download goes on while the drivers and the engine install.
    yield f"systemctl reset-failed {unit} 2>/dev/null; systemctl start --no-block {unit}"


def status_command(plan: DeployPlan) -> str:
    unit, marker = weights_unit(plan), shlex.quote(ready_marker(plan))
    return (f"echo state=$(systemctl is-active {unit}) jobs=$(systemctl list-jobs --no-legend {unit} | wc -l) "
            f"ready=$([ \"$(cat {marker} 2>/dev/null)\" = {plan.model.fingerprint} ] && echo yes || echo no); "
            f"cat {shlex.quote(progress_file(plan))} 2>/dev/null || true")


def _progress_line(plan: DeployPlan, fields: list[str]) -> str | None:
    if len(fields) != 5 or not all(field.isdigit() for field in fields):
        return None
    got, total, first, started, now = (int(field) for field in fields)
    rate = (got - first) / max(now - started, 1)
    left = (total - got) / rate / 60 if rate > 0 and total > got else 0
    share = 100 * got / total if total else 0
    return (f"weights {plan.config.model}: {got / 1e9:.2f} of {total / 1e9:.2f} GB ({share:.0f}%), "
            f"{rate / 1e6:.1f} MB/s, {left:.0f} min left")


def _wait_for_weights(state, host, plan: DeployPlan, poll: float = 5.0, report_every: float = 30.0) -> bool:
    """Poll the weights unit until it has marked the weights ready, printing its progress; start it
    once more if it is not running (the host rebooted, or it failed before we looked)."""
    unit, restarted, last_report = weights_unit(plan), False, 0.0
    while True:
        if plan.weights_seed_host in {failed.name for failed in state.failed_hosts}:
            # Nothing will come: stop the unit rather than leave it waiting for its timeout.
            host.run_shell_command(StringCommand(f"systemctl stop --no-block {unit}"))
            host.log_styled(f"{plan.weights_seed_host} fetches the weights of {plan.config.model} for this host and "
                            "failed in this run (its errors are above); rerun once it is fixed", fg="red",
                            log_func=logger.error)
            return False
        ok, output = host.run_shell_command(StringCommand(status_command(plan)))
        lines = output.stdout_lines if ok else []
        status = dict(word.split("=", 1) for word in (lines[0].split() if lines else []) if "=" in word)
        if status.get("ready") == "yes":
            host.log(f"weights {plan.config.model}: in place and verified")
            return True
        if status.get("state") in ("active", "activating", "deactivating") or status.get("jobs", "0") != "0":
            line = _progress_line(plan, lines[1].split()) if len(lines) > 1 else None
            if line and time.monotonic() - last_report >= report_every:
                host.log(line)
                last_report = time.monotonic()
            gevent.sleep(poll)
            continue
        if not restarted:
            host.run_shell_command(StringCommand(f"systemctl reset-failed {unit} 2>/dev/null; "
                                                 f"systemctl start --no-block {unit}"))
            restarted = True
            gevent.sleep(1)
            continue
        _, journal = host.run_shell_command(StringCommand(f"journalctl -u {unit} -n 25 --no-pager -o cat"))
        host.log_styled(f"fetching the weights of {plan.config.model} failed ({unit} ended without marking them "
                        "ready); its journal:\n" + "\n".join(journal.stdout_lines[-25:]), fg="red",
                        log_func=logger.error)
        return False


@operation()
def wait_for_weights(plan: DeployPlan):
    """Before the engine starts: wait for the weights unit to finish, showing its progress."""
    if weights_ready(plan):
        host.noop(f"model {plan.config.model} is already in place and verified")
        return
    yield FunctionCommand(_wait_for_weights, (plan,), {})


@deploy("glmstack model")
def start_model_download(plan: DeployPlan) -> bool:
    """Early in the deploy: the weights unit starts fetching while everything else installs. True when
    its files changed (systemd must reload them before it starts). A host whose bundle carries its
    weights takes them from there (no hub client, no token on the host)."""
    bundled = bundled_weights(plan)
    if plan.model.kind in HUB_CLIENTS and not bundled:
        install_step(package_step(plan, "hub-client"))
        if plan.model.token_file:
            put_secret(name="Hub token (0600, root only)", src=str(plan.model.token_file), dest=token_path(plan))
        files.put(name="Hub download checker", src=str(VERIFY_HUB), dest=verify_hub_script(plan),
                  user="root", group="root", mode="644", create_remote_dir=True)
        if plan.model.locked is not None:
            files.put(name="Locked files and sums", src=StringIO(plan.model.locked.files_json()),
                      dest=locked_files_path(plan), user="root", group="root", mode="644", create_remote_dir=True)
    if weights_user(plan) == WEIGHTS_USER:
        # No home, no shell, no group of its own: in the service group, so the engine reads what it fetched.
        server.user(name="Weights user", user=WEIGHTS_USER, group=plan.config.base_service_group, system=True,
                    home="/nonexistent", shell="/usr/sbin/nologin", create_home=False, ensure_home=False)
    # Read by the fetching user (in the service group) for its sandboxed step; it holds no secret.
    script = files.put(name="Weights fetch script", src=StringIO(fetch_script(plan, bundled)),
                       dest=weights_script(plan), user="root", group=plan.config.base_service_group, mode="750",
                       create_remote_dir=True)
    unit = files.put(name="Weights unit", src=StringIO(weights_unit_text(plan, bundled)),
                     dest=f"/etc/systemd/system/{weights_unit(plan)}", user="root", group="root", mode="644")
    reload = unit.will_change or script.will_change
    if plan.weights_peers:
        share = files.put(name="Weights sharing unit", src=StringIO(share_unit_text(plan)),
                          dest=f"/etc/systemd/system/{share_unit(plan)}", user="root", group="root", mode="644")
        reload = reload or share.will_change
    if plan.weights_peers and not weights_ready(plan):
        # Before any host starts fetching: the receiving hosts must not read an earlier run's lists
        # (or its failure) from a server left running.
        server.shell(name=f"Stop passing {plan.config.model} on from an earlier run",
                     commands=[f"systemctl stop {share_unit(plan)} 2>/dev/null || true"])
    if plan.config.model_fetch_early:
        start_fetching(name=f"Start fetching {plan.config.model}", plan=plan, reload=reload)
    return reload


def share_unit(plan: DeployPlan) -> str:
    return f"glmstack-weights-share-{plan.config.model}.service"


def peers_needing_weights(plan: DeployPlan) -> list[str]:
    """The hosts this one passes the weights to that do not have them (their facts, read now)."""
    needing = []
    for name, _ in plan.weights_peers:
        peer = inventory.get_host(name)
        state = peer.get_fact(WeightsState, marker=ready_marker(plan), signature_file=weights_signature_file(plan),
                              directory=plan.model.directory)
        if state["fingerprint"] != plan.model.fingerprint or not state["intact"]:
            needing.append(name)
    return needing


@operation()
def start_sharing(plan: DeployPlan):
    """Serve the verified weights to the hosts that receive them (the fetch starts this itself when
    it ran in this run), and wait until the server answers."""
    from glmstack.values import host_port  # an IPv6 address in brackets

    address = plan.config.address or plan.host
    url = shlex.quote(f"http://{host_port(address, plan.config.model_share_port)}/{MANIFEST}")
    yield (f"systemctl daemon-reload && systemctl start {share_unit(plan)} && "
           f"for i in $(seq 100); do curl -fsS -o /dev/null {url} && exit 0; sleep 0.2; done; "
           f"echo 'the weights server did not answer on '{url} >&2; exit 1")


@deploy("glmstack model")
def finish_model_download(plan: DeployPlan, reload: bool = False) -> bool:
    """Wait for the weights; True when they were (re)fetched in this run (an engine running on the
    old files restarts).

    A host receiving the weights fetches them as soon as the host fetching them from the source has
    verified them and serves them (its fetch starts serving at its end). pyinfra runs each
    operation on every host before the next: the fetching hosts finish, make sure they serve, the
    receiving hosts finish, and the serving stops.
    """
    if not plan.config.model_fetch_early:
        start_fetching(name=f"Start fetching {plan.config.model}", plan=plan, reload=reload)
    refetched = False
    if plan.weights_seed is None:
        refetched = wait_for_weights(name=f"Wait for {plan.config.model} to be fetched and verified",
                                     plan=plan).will_change
    peers = peers_needing_weights(plan)
    serving = bool(peers) or (bool(plan.weights_peers) and refetched)
    if serving:
        start_sharing(name=f"Pass {plan.config.model} on to {', '.join(peers) or 'the hosts receiving it'}",
                      plan=plan)
    if plan.weights_seed is not None:
        refetched = wait_for_weights(name=f"Wait for {plan.config.model} from {plan.weights_seed}",
                                     plan=plan).will_change
    if serving:
        server.shell(name=f"Stop passing {plan.config.model} on", commands=[f"systemctl stop {share_unit(plan)}"])
    return refetched


def weights_parts(plan: DeployPlan) -> list[DeployPlan]:
    """What is downloaded: the model itself, or a grafted model's base and delta, each as if it
    were the host's model (its own unit, directory and ready marker: a base already on the host
    for another deploy is not fetched again)."""
    if plan.rpc_worker:
        return []  # the head holds the weights; an RPC worker is sent tensors
    graft = plan.model.graft
    if graft is None:
        return [plan]
    return [dataclasses.replace(plan, config=plan.config.model_copy(update={"model": name}), model=part,
                                weights_seed=None, weights_seed_host=None, weights_peers=())
            for name, part in (graft.base, graft.delta)]


def graft_script_path(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_prefix, "lib", f"graft-weights-{plan.config.model}.sh")


def graft_script(plan: DeployPlan) -> str:
    """Merge the two checkpoints with the delta's own script, as the service user (it can read
    both and write only its output), check the result, and only then put it in place and mark it
    (templates/graft-weights.sh.j2)."""
    graft, out = plan.model.graft, plan.model.directory
    work = f"{out}.graft"
    return _templates.get_template("graft-weights.sh.j2").render(
        delta=graft.delta[0], base=graft.base[0], model=plan.config.model, marker=ready_marker(plan),
        signature=weights_signature_file(plan), work=work, out=out, user=plan.config.base_service_user,
        group=plan.config.base_service_group,
        # The script's own tools come first: the engine's Python has safetensors and torch.
        path=f"{posixpath.dirname(plan.binary)}:/usr/local/bin:/usr/bin:/bin", command=graft.command(f"{work}/out"),
        index_prefix=graft.index_prefix, config_key=graft.config_key,
        signature_command=files_signature_command(out), fingerprint=plan.model.fingerprint)


@operation()
def run_graft(plan: DeployPlan, parts_refetched: bool = False):
    """Graft unless the merged checkpoint is in place, unchanged, and its parts were not fetched
    again in this run."""
    if weights_ready(plan) and not parts_refetched:
        host.noop(f"model {plan.config.model} is grafted and checked")
        return
    yield f"/bin/bash {shlex.quote(graft_script_path(plan))}"


@deploy("glmstack model")
def graft_weights(plan: DeployPlan, parts_refetched: bool = False) -> bool:
    """After the parts are in place: the merged checkpoint. True when it was (re)made."""
    files.put(name="Graft script", src=StringIO(graft_script(plan)), dest=graft_script_path(plan),
              user="root", group="root", mode="700", create_remote_dir=True)
    return run_graft(name=f"Graft {plan.model.graft.delta[0]} onto {plan.model.graft.base[0]}", plan=plan,
                     parts_refetched=parts_refetched).will_change
