"""`glmstack drift`: would a deploy change anything? Per host, each operation that would, and why.

The real deploy is prepared against every host in check mode: facts are read, nothing is run.
An operation "would change" when it would run a command; its first command is the reason shown.
Operations that only run when others change (pyinfra's `_if`, such as rebuilding the CA store
after a certificate changed) cannot be judged before a run; the operations they follow are.
Unreachable hosts are reported as unreachable, never as drift.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyinfra.api import Config, FileUploadCommand, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state
from pyinfra_cli.util import load_deploy_file

from glmstack.inventory import deploying
from glmstack.paths import DEPLOYS
from glmstack.planning import inventory_hosts
from glmstack.secrets import redact


@dataclass
class HostDrift:
    host: str
    status: str  # "converged" | "drift" | "unreachable"
    changes: list[dict[str, str]] = field(default_factory=list)


@dataclass
class DriftReport:
    hosts: list[HostDrift]
    seconds: float
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        if any(host.status == "drift" for host in self.hosts):
            return 1
        return 2 if any(host.status == "unreachable" for host in self.hosts) else 0

    def as_dict(self) -> dict:
        return {"hosts": [asdict(host) for host in self.hosts], "seconds": round(self.seconds, 2),
                "error": self.error, "exit_code": self.exit_code}


def _first_command(state: State, host, op_hash: str) -> str:
    op_data = state.get_op_data_for_host(host, op_hash)
    with ctx_host.use(host):
        for command in op_data.command_generator():
            if isinstance(command, FileUploadCommand):
                # Name the file, never its content: environment files hold secrets.
                return f"upload {command.dest}"
            text = command.get_masked_value() if hasattr(command, "get_masked_value") else str(command)
            return redact(" ".join(text.split()))[:200]
    return ""


def check_drift(inventory_path: str | Path, deploy: str = "glm52.py") -> DriftReport:
    started = time.monotonic()
    # This report is the output; pyinfra's own warnings (host keys on a lab) would only add noise.
    logging.getLogger("pyinfra").setLevel(logging.ERROR)
    hosts = inventory_hosts(inventory_path)
    inventory = Inventory((hosts, {}))
    config = Config()
    state = State(inventory, config)
    with ctx_state.use(state), ctx_inventory.use(inventory), ctx_config.use(config):
        try:
            connect_all(state)
        except PyinfraError:
            pass  # every host failed to connect: each is reported unreachable below
        reachable = [host for host in inventory if host in state.active_hosts]
        report = [HostDrift(host.name, "unreachable") for host in inventory if host not in reachable]
        if reachable:
            try:
                with deploying(inventory_path):  # the deploy reads this inventory's lock file
                    load_deploy_file(state, str(DEPLOYS / deploy))
            except PyinfraError as error:
                message = getattr(error, "__cause__", None) or error
                return DriftReport(report, time.monotonic() - started, error=redact(str(message)))
        for host in reachable:
            changes = []
            for op_hash in state.get_op_order():
                if op_hash not in state.ops[host]:
                    continue
                op = state.ops[host][op_hash]
                if op.global_arguments.get("_if"):
                    continue
                if op.operation_meta.will_change:
                    name = next(iter(state.op_meta[op_hash].names))
                    changes.append({"operation": name, "would_run": _first_command(state, host, op_hash)})
            report.append(HostDrift(host.name, "drift" if changes else "converged", changes))
        for host in reachable:
            host.disconnect()
    order = [name for name, _ in hosts]
    report.sort(key=lambda entry: order.index(entry.host))
    return DriftReport(report, time.monotonic() - started)
