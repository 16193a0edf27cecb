"""Plan tests of a change that fails: what a host keeps before the change is written, the wait
that rolls it back, and a rollout that stops at the first host failing its restart."""

from __future__ import annotations

from fakehost import run_deploy_on
from gpu_states import NvidiaHost
from test_cpu_plan import RUNNING_FINGERPRINT, answer, captured, deploy
from test_gateway_plan import DATA as GATEWAY_DATA
from test_multinode_plan import ADDRESSES, H100_RAY, HEAD, INTERFACES, WORKER, first

from glmstack.config import resolve_inventory
from roles.service.units import serving_unit_spec

STALE = ["running", "GLMSTACK_DEPLOYED=0ld"]  # the engine runs another configuration
KEEP = "if grep -qxF Environment=GLMSTACK_DEPLOYED=0ld /etc/systemd/system/llama-server.service"
ROLLBACK = "restore_previous() {"
WAIT = "journalctl -u vllm.service -n 30"  # the wait after a restart (its report, should it fail)


def test_a_changed_flag_keeps_what_runs_before_writing_and_its_restart_can_roll_back():
    run = deploy(answer(captured("debian12-converged"), RUNNING_FINGERPRINT, STALE), extra_flags=["--no-such-flag"])
    assert run.changed[:2] == ["glmstack service | Keep llama-server's running configuration until the change is ready",
                               "glmstack service | Engine unit"]
    run.assert_in_order([KEEP, "chmod 644 /etc/systemd/system/llama-server.service", "systemctl daemon-reload",
                         "systemctl restart llama-server.service", ROLLBACK])
    wait = run.commands[run.index_of(ROLLBACK)]
    assert "outcome() { printf 'host %s: %s: %s; not ready on %s; %s\\n' @fake/node1 llama-server.service" in wait


def test_a_restart_without_a_change_of_configuration_rolls_nothing_back():
    """The weights' bytes were damaged and fetched again: same configuration, nothing to go back to."""
    responses = captured("debian12-converged")
    state = next(command for command in responses
                 if command.startswith("cat /var/lib/glmstack/models/glm-5.2-gguf.ready"))
    responses = answer(responses, state[:60], [*responses[state]["stdout"][:-1], "f" * 64])
    run = deploy(responses)
    assert run.ran("systemctl restart llama-server.service")
    assert not run.ran(ROLLBACK) and not run.ran("grep -qxF Environment=GLMSTACK_DEPLOYED")


def mp_pair_running_another_configuration(failing: str | None) -> list[tuple[str, dict, dict]]:
    """A vLLM deployment of two H100 hosts (multiprocessing: a head and a headless worker), each
    engine running an older configuration; `failing`: the host whose restart does not become ready."""
    data = {**H100_RAY, "recipe_variant": "mp"}
    hosts = [(name, {**data, "address": address}) for name, address in ADDRESSES.items()]
    plans = {plan.host: plan for plan in resolve_inventory(hosts)}
    built = []
    for name, host_data in hosts:
        state = NvidiaHost(host_data, plan=plans[name])
        state.answer(INTERFACES, ["lo 127.0.0.1 ::1", f"ens1f0 {host_data['address']}"])
        state.answer(RUNNING_FINGERPRINT, STALE)
        if name == failing:
            state.answer(WAIT, ["vllm.service: its process exited (activating/auto-restart)"], success=False)
        built.append((name, host_data, state.responses()))
    return built


def test_a_deployment_whose_first_host_fails_its_restart_takes_no_other_host_down():
    runs, timeline = run_deploy_on(mp_pair_running_another_configuration(failing=WORKER), allow_failure=True)
    restart = "systemctl restart vllm.service"
    # The worker goes first (rank 1) and fails; the head is never restarted.
    assert first(timeline, WORKER, restart) < first(timeline, WORKER, WAIT)
    assert not runs[HEAD].ran(restart)
    assert ROLLBACK in runs[WORKER].commands[runs[WORKER].index_of(WAIT)]  # the worker rolls back
    restart_op = "glmstack service | Restart vllm in turn, ready before the next"
    assert runs[WORKER].failed == runs[HEAD].failed == [restart_op]
    # The head puts back the files it kept, so that they say what it still runs (no restart).
    restored = runs[HEAD].commands[runs[HEAD].index_of("restore_previous || true")]
    assert "systemctl daemon-reload" in restored and "systemctl restart" not in restored


def test_a_deployment_whose_hosts_come_back_ready_restarts_each_in_turn():
    runs, timeline = run_deploy_on(mp_pair_running_another_configuration(failing=None))
    restart = "systemctl restart vllm.service"
    assert first(timeline, WORKER, restart) < first(timeline, WORKER, WAIT) < first(timeline, HEAD, restart)
    assert not any(run.failed for run in runs.values())



def test_a_replica_group_behind_the_gateway_is_one_rollout_group():
    """What stops a deployment's rollout above stops a replica group's: the same record, keyed by
    the group. (Fake hosts cannot form a group: their @fake/ names are no HAProxy server names; the
    lab's front_door/test_rollback.py proves it on two replicas.)"""
    hosts = [(address, {**GATEWAY_DATA, "address": address, "gateway_group": "front-door"})
             for address in ("10.213.0.11", "10.213.0.12")]
    assert [serving_unit_spec(plan).rollout_group for plan in resolve_inventory(hosts)] == ["front-door"] * 2
    alone = resolve_inventory([("10.213.0.11", {**GATEWAY_DATA, "address": "10.213.0.11"})])
    assert serving_unit_spec(alone[0]).rollout_group is None  # a host alone stops nothing else
