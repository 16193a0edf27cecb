"""The deploy's wait for a (re)started unit, run for real against a scripted systemd.

The very command the deploy runs (roles.service.wait_script) runs under /bin/sh with systemctl,
journalctl, curl, awk and sleep replaced by a stub that answers from a list of unit states, one
per poll: a crash-looping engine must fail the wait at once (with Restart=on-failure it never
reaches "failed"), a clean exit too, and a slow start or a unit restarted before the wait began
must not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve, resolve_inventory
from roles.service.operations import wait_script

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

def state(index):
    return states[max(0, min(index, len(states) - 1))]

if tool == "sleep":
    sys.exit(0)
if tool in ("curl", "awk"):
    sys.exit(0 if state(polls).get("ready") else 7)
if tool == "journalctl":
    print("engine[42]: error: invalid argument: --no-such-flag")
    print("systemd[1]: llama-server.service: Main process exited, code=exited, status=1/FAILURE")
    print("journalctl " + " ".join(args))
    sys.exit(0)
assert tool == "systemctl", tool
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


def run_wait(plan, states: list[dict], tmp_path, timeout: float = 20):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "stub.py"
    stub.write_text(f"#!{sys.executable}\n{STUB}")
    stub.chmod(0o755)
    for tool in ("systemctl", "journalctl", "curl", "awk", "sleep"):
        (bin_dir / tool).symlink_to(stub)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_STATES": json.dumps(states),
           "STUB_COUNTER": str(tmp_path / "polls")}
    started = time.monotonic()
    try:
        result = subprocess.run(["/bin/sh", "-c", wait_script(plan)], env=env, capture_output=True,
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
