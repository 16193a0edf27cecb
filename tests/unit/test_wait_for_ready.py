"""The deploy's wait for a (re)started unit, run for real against a scripted systemd.

The very command the deploy runs (roles.service.wait_script) runs under /bin/sh with systemctl,
journalctl, curl, awk and sleep replaced by a stub that answers from a list of unit states, one
per poll: a crash-looping engine must fail the wait at once (with Restart=on-failure it never
reaches "failed"), a clean exit too, and a slow start or a unit restarted before the wait began
must not.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve, resolve_inventory
from roles.model.operations import kept_weights, restore_weights_functions
from roles.service.operations import wait_script
from roles.service.render import deployed_fingerprint, kept_configuration
from roles.service.units import serving_unit_spec

# The stub: argv[0] says which tool it stands for. The index of the current poll is the number of
# ActiveState (or, in the wait before this fix, is-failed) queries so far; the readiness check,
# made first in each poll, reads the state of the poll it opens.
STUB = """\
import json, os, sys
from pathlib import Path

tool, args = Path(sys.argv[0]).name, sys.argv[1:]
states = json.loads(os.environ["STUB_STATES"])
counter = Path(os.environ["STUB_COUNTER"])
polls = int(counter.read_text()) if counter.exists() else 0
# After `systemctl restart` (a rollback's): the states of the restarted unit, counted from then.
restarted = Path(os.environ["STUB_COUNTER"] + ".restarted")
if restarted.exists():
    states = json.loads(os.environ.get("STUB_STATES_AFTER_RESTART", "[]")) or states
if tool not in ("sleep", "curl", "awk") and not (tool == "systemctl" and args[0] in ("show", "is-failed")):
    with open(os.environ["STUB_LOG"], "a") as log:
        log.write(" ".join([tool, *args]) + "\\n")

def state(index):
    if restarted.exists():
        index -= int(restarted.read_text())
    return states[max(0, min(index, len(states) - 1))]

if tool == "sleep":
    sys.exit(0)
if tool in ("curl", "awk"):
    sys.exit(0 if state(polls).get("ready") else 7)
if tool == "journalctl":
    print("Nov 30 22:10:10 node1 llama-server[42]: error: invalid argument: --no-such-flag")
    print("Nov 30 22:10:10 node1 systemd[1]: llama-server.service: Failed to kill control group, ignoring: "
          "Input/output error")
    print("systemd[1]: llama-server.service: Main process exited, code=exited, status=1/FAILURE")
    print("journalctl " + " ".join(args))
    sys.exit(0)
if tool == "cp":
    sys.exit(0)
assert tool == "systemctl", tool
if args[0] == "restart":
    restarted.write_text(str(polls))
    sys.exit(0)
if args[0] == "daemon-reload":
    sys.exit(0)
if args[0] == "is-failed" or (args[0] == "show" and "ActiveState" in args and "--value" in args):
    polls += 1
    counter.write_text(str(polls))
now = state(polls - 1)
if args[0] == "is-failed":
    sys.exit(0 if now["ActiveState"] == "failed" else 1)
if args[0] == "is-active":
    sys.exit(0 if now["ActiveState"] == "active" else 3)
assert args[0] == "show", args
keys = [args[i + 1] for i, arg in enumerate(args) if arg == "-p"]
for key in keys:
    print(now.get(key, "") if "--value" in args else f"{key}={now.get(key, '')}")
"""

RUNNING = {"ActiveState": "active", "SubState": "running", "Result": "success", "ExecMainCode": "0",
           "ExecMainStatus": "0", "NRestarts": "0", "InvocationID": "a1"}
# Restart=on-failure, between two attempts: still "activating", never "failed".
WAITING_TO_RESTART = {**RUNNING, "ActiveState": "activating", "SubState": "auto-restart", "Result": "exit-code",
                      "ExecMainCode": "1", "ExecMainStatus": "1"}
STARTING = {**RUNNING, "ActiveState": "activating", "SubState": "start-pre"}


def run_wait(plan, states: list[dict], tmp_path, timeout: float = 20, script: str | None = None,
             after_restart: list[dict] | None = None):
    """The wait (or `script`) against the stub; `after_restart`: the unit's states once something
    ran `systemctl restart` (a rollback). What else ran (not a state query) is in tmp_path/ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "stub.py"
    stub.write_text(f"#!{sys.executable}\n{STUB}")
    stub.chmod(0o755)
    for tool in ("systemctl", "journalctl", "curl", "awk", "sleep", "cp"):
        (bin_dir / tool).symlink_to(stub)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_STATES": json.dumps(states),
           "STUB_COUNTER": str(tmp_path / "polls"), "STUB_LOG": str(tmp_path / "ran"),
           "STUB_STATES_AFTER_RESTART": json.dumps(after_restart or [])}
    started = time.monotonic()
    try:
        result = subprocess.run(["/bin/sh", "-c", script or wait_script(plan)], env=env, capture_output=True,
                                text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the wait was still polling {timeout:.0f}s later (it would until its {plan.ready_timeout}s "
                    "timeout): it never saw the unit's process exit")
    return result, time.monotonic() - started


@pytest.fixture
def engine():
    return resolve("node1", {**CPU_MIRROR, "gateway_enabled": False})


def test_a_crash_looping_engine_fails_the_wait_at_once_with_its_journal(engine, tmp_path):
    result, seconds = run_wait(engine, [RUNNING, WAITING_TO_RESTART], tmp_path)
    assert result.returncode == 1
    assert seconds < 10
    assert ("llama-server.service: its process exited (activating/auto-restart); "
            "not ready on http://127.0.0.1:8080/health") in result.stderr
    assert "Result=exit-code ExecMainCode=1 ExecMainStatus=1" in result.stderr
    # The journal's tail, of this unit.
    assert "error: invalid argument: --no-such-flag" in result.stderr
    assert "journalctl -u llama-server.service -n 30 --no-pager" in result.stderr


def test_an_engine_restarted_between_two_polls_fails_the_wait(engine, tmp_path):
    # The exit and the restart both fell between two polls: running again, but restarted.
    restarted = {**RUNNING, "NRestarts": "1", "InvocationID": "b2"}
    result, _ = run_wait(engine, [RUNNING, RUNNING, restarted], tmp_path)
    assert result.returncode == 1
    assert "llama-server.service: its process exited and systemd restarted it" in result.stderr


def test_a_clean_exit_of_an_rpc_worker_fails_the_wait(tmp_path):
    # ggml-rpc-server exits 0 on an unknown argument: Restart=on-failure leaves the unit dead.
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "1" * 40,
            "model_entry": "UD-IQ2_XXS/GLM-5.2-UD-IQ2_XXS-00001-of-00005.gguf", "recipe_variant": "rpc",
            "deployment": "rpc"}
    _, worker = resolve_inventory([("10.0.0.1", data), ("10.0.0.2", data)])
    assert worker.probe == "tcp"
    dead = {**RUNNING, "ActiveState": "inactive", "SubState": "dead", "InvocationID": ""}
    result, _ = run_wait(worker, [RUNNING, dead], tmp_path)
    assert result.returncode == 1
    assert "llama-rpc.service: its process exited (inactive/dead); not ready on 10.0.0.2:50052" in result.stderr


def test_a_slow_start_is_waited_for(engine, tmp_path):
    result, _ = run_wait(engine, [STARTING, STARTING, RUNNING, {**RUNNING, "ready": True}], tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_unit_restarted_before_the_wait_began_is_judged_from_then_on(engine, tmp_path):
    # A rerun fixing a crash-looping unit: its start waited for the pending restart.
    fixed = {**RUNNING, "NRestarts": "7", "InvocationID": "c3"}
    result, _ = run_wait(engine, [fixed, fixed, {**fixed, "ready": True}], tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_wait_still_ends_at_its_timeout(engine, tmp_path):
    from dataclasses import replace

    result, _ = run_wait(replace(engine, ready_timeout=0), [RUNNING], tmp_path)
    assert result.returncode == 1
    assert "llama-server.service: it did not become ready within 0s" in result.stderr


# A failed change rolls back (the wait after a restart onto a changed configuration).
ROLLED_BACK = {**RUNNING, "InvocationID": "z9"}
FAILED_LINE = ("host node1: llama-server.service: its process exited (activating/auto-restart), its journal says: "
               "error: invalid argument: --no-such-flag; not ready on http://127.0.0.1:8080/health; ")


def kept_for(engine, tmp_path, change: str | None = None):
    """The engine's unit, its configuration directory under tmp_path, with the files it ran with
    kept there for `change` (by default: the change to this very configuration)."""
    unit = dataclasses.replace(serving_unit_spec(engine), config_dir=str(tmp_path / "etc"))
    kept = kept_configuration(unit)
    Path(kept.directory).mkdir(parents=True)
    for _, copy in kept.files[:2]:  # the unit and its environment file; no firewall
        Path(copy).write_text("kept\n")
    Path(kept.target).write_text(f"{change or deployed_fingerprint(unit)}\n")
    return unit


def ran(tmp_path) -> list[str]:
    log = tmp_path / "ran"
    return [line for line in log.read_text().splitlines() if not line.startswith("journalctl")] \
        if log.exists() else []


def test_a_failed_change_is_rolled_back_and_the_previous_engine_waited_for(engine, tmp_path):
    unit = kept_for(engine, tmp_path)
    kept = dict(kept_configuration(unit).files)
    result, seconds = run_wait(unit, [RUNNING, WAITING_TO_RESTART], tmp_path, after_restart=[
        ROLLED_BACK, {**ROLLED_BACK, "ready": True}], script=wait_script(unit, rollback_host="node1"))
    assert result.returncode == 1 and seconds < 10
    # What failed first (with the journal), then one line naming the host, the unit and the rollback.
    assert "error: invalid argument: --no-such-flag" in result.stderr
    assert result.stderr.splitlines()[-1] == FAILED_LINE + (
        "rolled back to the previous unit, environment file and engine, ready again on "
        "http://127.0.0.1:8080/health")
    assert ran(tmp_path) == [
        f"cp -p {kept['/etc/systemd/system/llama-server.service']} /etc/systemd/system/llama-server.service",
        f"cp -p {kept[f'{tmp_path}/etc/llama-server.env']} {tmp_path}/etc/llama-server.env",
        "systemctl daemon-reload", "systemctl restart llama-server.service"]


def test_a_rollback_that_fails_too_says_so(engine, tmp_path):
    unit = kept_for(engine, tmp_path)
    result, _ = run_wait(unit, [RUNNING, WAITING_TO_RESTART], tmp_path, after_restart=[
        ROLLED_BACK, {**WAITING_TO_RESTART, "InvocationID": "z9"}], script=wait_script(unit, rollback_host="node1"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == FAILED_LINE + (
        "rolling back to the previous unit, environment file and engine failed too: its process exited "
        "(activating/auto-restart)")


def test_files_kept_for_another_change_are_never_put_back(engine, tmp_path):
    unit = kept_for(engine, tmp_path, change="0" * 16)
    result, _ = run_wait(unit, [RUNNING, WAITING_TO_RESTART], tmp_path, script=wait_script(unit, rollback_host="node1"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == FAILED_LINE + (
        "no previous configuration was kept on the host for this change: nothing rolled back")
    assert ran(tmp_path) == []


def test_a_rollback_onto_weights_replaced_in_place_says_so(engine, tmp_path):
    unit = kept_for(engine, tmp_path)
    result, _ = run_wait(unit, [RUNNING, WAITING_TO_RESTART], tmp_path, after_restart=[
        ROLLED_BACK, {**ROLLED_BACK, "ready": True}], script=wait_script(unit, rollback_host="node1",
                                                                          weights_changed=True))
    assert result.stderr.splitlines()[-1].endswith(
        "ready again on http://127.0.0.1:8080/health; it runs on what this run replaced in place and does not "
        "keep (weights fetched again, or the accelerator's runtime)")


def test_a_change_that_becomes_ready_puts_nothing_back(engine, tmp_path):
    unit = kept_for(engine, tmp_path)
    result, _ = run_wait(unit, [STARTING, {**RUNNING, "ready": True}], tmp_path,
                         script=wait_script(unit, rollback_host="node1"))
    assert result.returncode == 0, result.stderr
    assert ran(tmp_path) == []


def test_a_rollback_puts_back_the_weights_kept_for_the_change_before_the_restart(engine, tmp_path):
    """The model role's restore_weights in the wait (its paths moved under tmp_path): the kept copy
    renamed back into place, its marker and signature copied back, then the previous unit restarts."""
    unit = kept_for(engine, tmp_path)
    state = tmp_path / "state"
    kept = kept_weights(engine)
    model, copy, record = (Path(path.replace("/var/lib/glmstack", str(state)))
                           for path in (kept.directory, kept.copy, kept.record))
    model.mkdir(parents=True)
    (model / "w.gguf").write_text("new\n")
    copy.mkdir()
    (copy / "w.gguf").write_text("old\n")
    record.mkdir(parents=True)
    (record / "for").write_text(f"{engine.model.fingerprint}\n")
    weights = restore_weights_functions(engine).replace("/var/lib/glmstack", str(state))
    result, _ = run_wait(unit, [RUNNING, WAITING_TO_RESTART], tmp_path, after_restart=[
        ROLLED_BACK, {**ROLLED_BACK, "ready": True}], script=wait_script(unit, rollback_host="node1",
                                                                          weights_changed=True, weights=weights))
    assert result.stderr.splitlines()[-1] == FAILED_LINE + (
        "rolled back to the previous unit, environment file, engine and weights, ready again on "
        "http://127.0.0.1:8080/health")
    assert (model / "w.gguf").read_text() == "old\n" and not copy.exists() and not record.exists()
    marker = f"{state}/models/{engine.config.model}.ready"
    # After the unit's files (restore_previous), before the restart.
    assert ran(tmp_path)[-4:] == ["systemctl daemon-reload", f"cp -p {record}/files {marker}.files",
                                  f"cp -p {record}/ready {marker}", "systemctl restart llama-server.service"]


def test_a_change_that_becomes_ready_drops_the_kept_weights(engine, tmp_path):
    unit = kept_for(engine, tmp_path)
    weights = "restore_weights() { echo restore >> \"$LOG\"; }\ndrop_kept_weights() { echo drop >> \"$LOG\"; }\n"
    weights = weights.replace("$LOG", str(tmp_path / "ran"))
    result, _ = run_wait(unit, [STARTING, {**RUNNING, "ready": True}], tmp_path,
                         script=wait_script(unit, rollback_host="node1", weights=weights))
    assert result.returncode == 0, result.stderr
    assert ran(tmp_path) == ["drop"]
