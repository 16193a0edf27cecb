"""Where a secret could show on a lab node, gathered for tests that prove it does not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

SAMPLES = "/root/glmstack-ps-samples"


@contextmanager
def process_samples(host) -> Iterator[None]:
    """Record every process's command line on the node every 50 ms while the block runs: commands
    that live a moment (a deploy's) are caught too. Ended by the PID it started with."""
    sampler = host.check_output(f"nohup sh -c 'while :; do ps -eww -o args; sleep 0.05; done' >{SAMPLES} 2>&1 "
                                "& echo $!")
    try:
        yield
    finally:
        host.run(f"kill {sampler}")


def places(host, units: list[str], outputs: list[str]) -> dict[str, str]:
    """The text of each place a secret must never be: the processes sampled (and now), the units'
    files and settings, the whole journal, and the deploy runs' output."""
    unit_text = "".join(host.check_output(f"cat /etc/systemd/system/{unit}; systemctl show {unit}") for unit in units)
    return {
        "pyinfra output": "".join(outputs),
        "process list": host.check_output(f"cat {SAMPLES} 2>/dev/null; ps -eww -o args"),
        "unit files": unit_text,
        "journal": host.check_output("journalctl --no-pager -o verbose"),
    }


def assert_absent(secrets: dict[str, str], where: dict[str, str]) -> None:
    for name, secret in secrets.items():
        assert secret, f"{name} is empty: nothing would be found"
        for place, text in where.items():
            assert secret not in text, f"{name} appears in the {place}"
