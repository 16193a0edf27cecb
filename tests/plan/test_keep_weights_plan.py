"""Plan tests of a change of weights: the host keeps its verified weights (a hard-linked copy)
before the fetch replaces them, and the engine's wait puts them back on a rollback, or drops them
once the changed engine is ready. Nothing is kept when the weights do not change."""

from __future__ import annotations

from fakehost import run_deploy_on
from test_cpu_plan import captured, deploy
from test_multinode_plan import HEAD, WORKER
from test_rollback_plan import mp_pair_running_another_configuration

KEEP_OP = "glmstack model | Keep glm-5.2-gguf's verified weights until the change is ready"
KEEP = "cp -al \"$dir\" \"$copy\""
FETCH = "systemctl start --no-block glmstack-weights-glm-5.2-gguf.service"
RESTART = "systemctl restart llama-server.service"
RESTORE = "restore_weights() {"
NEW_WEIGHTS = {"model_files": {"glm-5.2-tiny-test.gguf": "0" * 64}}  # other bytes pinned for the model file


def test_a_change_of_weights_keeps_the_verified_ones_before_the_fetch():
    run = deploy(captured("debian12-converged"), **NEW_WEIGHTS)
    assert run.changed[0] == KEEP_OP
    run.assert_in_order([KEEP, FETCH, RESTART, RESTORE])
    keep = run.commands[run.index_of(KEEP)]
    # Beside the model directory (same filesystem: hard links), recorded for this change.
    assert "copy=/var/lib/glmstack/models/glm-5.2-gguf.previous\n" in keep
    assert "record=/var/lib/glmstack/models/previous/glm-5.2-gguf\n" in keep
    # The wait after the restart: the kept weights go once the engine is ready, or come back on
    # a rollback with the unit's files, before the previous unit restarts.
    wait = run.commands[run.index_of(RESTORE)]
    assert "if wait_ready; then drop_kept_weights; exit 0; fi" in wait
    rollback = wait[wait.index("if ! restore_previous; then"):]
    assert rollback.index("if restore_weights; then") < rollback.index(RESTART)
    assert "mv /var/lib/glmstack/models/glm-5.2-gguf.previous /var/lib/glmstack/models/glm-5.2-gguf" in wait


def test_a_change_of_flags_alone_keeps_no_weights():
    run = deploy(captured("debian12-converged"), extra_flags=["--no-such-flag"])
    assert KEEP_OP not in run.changed
    assert not run.ran(KEEP)
    assert run.ran(RESTART)


def test_a_converged_host_keeps_nothing():
    run = deploy(captured("debian12-converged"))
    assert run.changed == []
    assert not run.ran(KEEP) and not run.ran(RESTORE)


def test_a_host_of_a_stopped_rollout_puts_back_its_kept_weights_too():
    """Its engine was never restarted: it still runs on the weights kept for the change."""
    runs, _ = run_deploy_on(mp_pair_running_another_configuration(failing=WORKER), allow_failure=True)
    restored = runs[HEAD].commands[runs[HEAD].index_of("restore_previous || true")]
    assert restored.index("restore_previous || true") < restored.index("restore_weights || true")
    assert "restore_weights() {" in restored and "systemctl restart" not in restored
