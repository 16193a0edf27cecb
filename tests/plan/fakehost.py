"""Run the real deploy file in-process against pyinfra's @fake connector.

Facts are answered from canned command output (captured from real hosts of each kind), and the
connector records every command the deploy would run, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyinfra
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operations import run_ops
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state
from pyinfra_cli.util import load_deploy_file

from glmstack.paths import DEPLOYS

HOST = "@fake/node1"
WEIGHTS_STATUS = "echo state=$(systemctl is-active glmstack-weights-"
# The poll of the host serving a group's packages (roles/model/fanout_wait.poll_command).
PACKAGES_POLL = 'echo "failed $f"'


@dataclass
class FakeRun:
    state: State
    commands: list[str]
    changed: list[str]
    unchanged: list[str]
    failed: list[str] = field(default_factory=list)
    error: PyinfraError | None = None

    def ran(self, fragment: str) -> bool:
        return any(fragment in command for command in self.commands)

    def assert_in_order(self, fragments: list[str]) -> None:
        """Each fragment appears in some command, and their first appearances come in this order."""
        positions = [self.index_of(fragment) for fragment in fragments]
        assert positions == sorted(positions), list(zip(fragments, positions, strict=True))

    def index_of(self, fragment: str) -> int:
        for index, command in enumerate(self.commands):
            if fragment in command:
                return index
        raise AssertionError(f"no command contains {fragment!r}")


def run_deploy(data: dict, responses: dict, deploy: str = "glm52.py", after: tuple[str, dict] | None = None,
               allow_failure: bool = False) -> FakeRun:
    """Deploy against a fake host answering from `responses`.

    after=(fragment, later): once a command containing `fragment` ran (a reboot, say), the host
    answers from `later` instead, as a real host's facts change after it. allow_failure: a
    failing operation is recorded in FakeRun.failed instead of failing the test.
    """
    runs, _ = run_deploy_on([(HOST, data, responses)], deploy, after, allow_failure)
    return runs[HOST]


def run_deploy_on(hosts: list[tuple[str, dict, dict]], deploy: str = "glm52.py",
                  after: tuple[str, dict] | None = None,
                  allow_failure: bool = False) -> tuple[dict[str, FakeRun], list[tuple[str, str]]]:
    """Deploy to several fake hosts at once (name, data, responses), as pyinfra drives an
    inventory: each host's run, and every command of every host in the order they ran."""
    # The canned facts were captured from hosts without the gateway: a test about the gateway
    # turns it on itself (and answers its facts).
    inventory = Inventory(([(name, {"gateway_enabled": False, **data, "fake_responses": _weights_unit_done(responses),
                                    "fake_delay": 0, "fake_delay_jitter": 0}) for name, data, responses in hosts], {}))
    config = Config()
    state = State(inventory, config)
    error = None
    timeline: list[tuple[str, str]] = []
    runs = {}
    with ctx_state.use(state), ctx_inventory.use(inventory), ctx_config.use(config):
        connect_all(state)
        for name, _, _ in hosts:
            host = inventory.get_host(name)
            if after is not None:
                _switch_answers_after(host, *after)
            _record_into(host, timeline)
        # As the pyinfra command orders operations: by the deploy's call stack, so that hosts
        # taking different branches (a head, a worker) still line up operation by operation.
        pyinfra.is_cli, cli = True, pyinfra.is_cli
        state.current_op_file_number = 0
        state.set_stage(StateStage.Prepare)
        try:
            load_deploy_file(state, str(DEPLOYS / deploy))
        finally:
            pyinfra.is_cli = cli
        state.set_stage(StateStage.Execute)
        try:
            run_ops(state)
        except PyinfraError as raised:  # every host failed
            if not allow_failure:
                raise
            error = raised
        for name, _, _ in hosts:
            host = inventory.get_host(name)
            runs[name] = _host_run(state, host, allow_failure, error)
    return runs, timeline


def _host_run(state: State, host, allow_failure: bool, error: PyinfraError | None) -> FakeRun:
    changed, unchanged, failed = [], [], []
    for op_hash in state.get_op_order():
        if op_hash not in state.ops[host]:
            continue
        meta = state.ops[host][op_hash].operation_meta
        name = next(iter(state.op_meta[op_hash].names))
        if not meta.did_succeed(_raise_if_not_complete=False):
            if meta.executed or meta._commands is not None:
                failed.append(name)
            if not allow_failure:
                raise AssertionError(f"operation {name} failed on the fake host {host.name}")
            continue
        (changed if meta.did_change() else unchanged).append(name)
    with ctx_host.use(host):
        commands = list(host.connector.executed_commands)
    return FakeRun(state, commands, changed, unchanged, failed, error)


def _record_into(host, timeline: list[tuple[str, str]]) -> None:
    connector = host.connector
    original = connector.run_shell_command

    def run_shell_command(command, *args, **kwargs):
        text = command if isinstance(command, str) else command.get_masked_value()
        timeline.append((host.name, text))
        return original(command, *args, **kwargs)

    connector.run_shell_command = run_shell_command


def _weights_unit_done(responses: dict) -> dict:
    """The deploy polls the weights unit while it runs (not a fact, so never captured): unless a
    test answers otherwise, it has finished and marked the weights ready."""
    done = {"stdout": ["state=inactive jobs=0 ready=yes"], "stderr": [], "success": True}
    # The same for the packages a host installs from the one passing the weights on: served.
    served = {"stdout": ["ready"], "stderr": [], "success": True}
    return {WEIGHTS_STATUS: done, PACKAGES_POLL: served, **responses}  # first: the fake answers with the first match


def _switch_answers_after(host, fragment: str, later: dict) -> None:
    connector = host.connector
    original = connector.run_shell_command

    def run_shell_command(command, *args, **kwargs):
        result = original(command, *args, **kwargs)
        text = command if isinstance(command, str) else command.get_masked_value()
        if fragment in text:
            connector.data["fake_responses"] = _weights_unit_done(later)
        return result

    connector.run_shell_command = run_shell_command


def record_uploads(monkeypatch) -> dict[str, str]:
    """What the deploy uploads from memory (a rendered script or file), by destination, filled as
    the deploy runs: the fake connector keeps no record of uploads."""
    import pyinfra.connectors.fake

    put: dict[str, str] = {}
    original = pyinfra.connectors.fake.FakeConnector.put_file

    def recording(self, filename_or_io, remote_filename, *args, **kwargs):
        if hasattr(filename_or_io, "getvalue"):
            put[remote_filename] = filename_or_io.getvalue()
        return original(self, filename_or_io, remote_filename, *args, **kwargs)

    monkeypatch.setattr(pyinfra.connectors.fake.FakeConnector, "put_file", recording)
    return put
