"""Before a host installs from the packages the host passing the weights on serves (roles/model/
fanout.py): wait until that host serves them whole, and stop at once, naming it, when it failed."""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

import gevent
from pyinfra import logger
from pyinfra.api import FunctionCommand, StringCommand, operation

from glmstack.values import host_port
from roles.model.fanout import FAILED, READY, SHARE_UNIT

if TYPE_CHECKING:
    from roles.model.fanout import FanoutPlan


def poll_command(fanout: FanoutPlan, parts: tuple[str, ...], on_seed: bool = False) -> str:
    """One line: "failed <what>" when the fetching host gave up, "ready" when every part is there,
    else "waiting" (or "unanswered": its server does not answer). On the fetching host itself, a
    server that stopped is a failure at once: its peers cannot read the fetch's failure from it, and
    stop when this host fails in the run."""
    url = f"http://{host_port(fanout.seed_address, fanout.port)}"
    server = (f"if systemctl is-failed --quiet {SHARE_UNIT}; then "
              f'echo "failed its packages server stopped (journalctl -u {SHARE_UNIT})"; el' if on_seed else "")
    checks = " && ".join(f"curl -fsS -o /dev/null --max-time 10 {shlex.quote(f'{url}/{part}/{READY}')}"
                         for part in parts)
    return (f"{server}if f=$(curl -fsS --max-time 10 {shlex.quote(f'{url}/{FAILED}')} 2>/dev/null); then "
            f'echo "failed $f"; elif {checks} 2>/dev/null; then echo ready; '
            f"elif curl -fsS -o /dev/null --max-time 10 {shlex.quote(url + '/')} 2>/dev/null; then echo waiting; "
            "else echo unanswered; fi")


def failure_line(fanout: FanoutPlan, what: str, waiting: str) -> str:
    """The one line every host installing from the fetching host shows when it failed."""
    return f"host {fanout.seed_host}: {what}; {waiting} installs from it, so it stops too (rerun once it is fixed)"


def _wait_for_part(state, host, fanout: FanoutPlan, parts: tuple[str, ...], poll: float = 2.0,
                   report_every: float = 60.0) -> bool:
    """Poll the fetching host's server until the parts are ready; stop at once, naming it, when it
    failed (its fetch said so, or it failed in this run), or when it stayed silent past the timeout."""
    started = last_answer = last_report = time.monotonic()
    while True:
        if fanout.seed_host != host.name and fanout.seed_host in {failed.name for failed in state.failed_hosts}:
            host.log_styled(failure_line(fanout, "failed in this run (its errors are above)", host.name), fg="red",
                            log_func=logger.error)
            return False
        ok, output = host.run_shell_command(StringCommand(poll_command(fanout, parts, fanout.seed_host == host.name)))
        line = output.stdout_lines[0] if ok and output.stdout_lines else "unanswered"
        if line == "ready":
            return True
        if line.startswith("failed"):
            host.log_styled(failure_line(fanout, line.removeprefix("failed").strip() or "its fetch failed", host.name),
                            fg="red", log_func=logger.error)
            return False
        now = time.monotonic()
        if line != "unanswered":
            last_answer = now
        elif now - last_answer > fanout.timeout:
            host.log_styled(failure_line(fanout, f"did not serve the packages within {fanout.timeout} s "
                                                 "(model_fetch_from_timeout)", host.name), fg="red",
                            log_func=logger.error)
            return False
        if now - last_report >= report_every:
            host.log(f"waiting {now - started:.0f} s for {', '.join(parts)} from {fanout.seed_host}")
            last_report = now
        gevent.sleep(poll)


@operation()
def wait_for_part(fanout: FanoutPlan, parts: tuple[str, ...]):
    """Before an install from the fetching host's packages: wait until it serves them whole."""
    yield FunctionCommand(_wait_for_part, (fanout, parts), {})
