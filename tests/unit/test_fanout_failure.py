"""A host installing from the one that fetches the group's packages stops at once when that host
fails, in one line naming it and what failed, instead of waiting for its timeout
(roles/model/fanout_wait._wait_for_part)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from roles.model import fanout_wait as fanout_operations
from roles.model.fanout import FanoutPlan

FANOUT = FanoutPlan(seed_host="cpu-1", seed_address="10.0.0.1", port=8098, root="/var/lib/glmstack/downloads",
                    arch="x86_64", timeout=300)
PARTS = ("tools/uv/x86_64", "python/vllm-0.23.0-7696d2e1")


@dataclass
class Peer:
    """A host the wait runs on: the fetching host's server answers the poll with `answers`, in turn."""

    answers: list[str]
    name: str = "cpu-2"
    polls: int = 0
    logged: list[str] = field(default_factory=list)

    def run_shell_command(self, command):
        answer = self.answers[min(self.polls, len(self.answers) - 1)]
        self.polls += 1
        return True, SimpleNamespace(stdout_lines=[answer])

    def log_styled(self, text, **_):
        self.logged.append(text)

    def log(self, text):
        self.logged.append(text)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(fanout_operations.gevent, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    monkeypatch.setattr(fanout_operations.time, "monotonic", lambda: clock[0])


def wait(peer: Peer, failed_hosts=()) -> bool:
    state = SimpleNamespace(failed_hosts=[SimpleNamespace(name=name) for name in failed_hosts])
    return fanout_operations._wait_for_part(state, peer, FANOUT, PARTS)


def test_the_fetching_hosts_failure_stops_the_wait_at_once_naming_it_and_what_failed():
    peer = Peer(["waiting", "waiting", "failed fetching uv (uv==0.13.9) failed (exit 1; journalctl -u "
                                       "glmstack-packages.service)"])
    assert wait(peer) is False
    assert peer.polls == 3  # at the first poll that sees it, not at the timeout
    assert peer.logged == ["host cpu-1: fetching uv (uv==0.13.9) failed (exit 1; journalctl -u "
                           "glmstack-packages.service); cpu-2 installs from it, so it stops too (rerun once it is "
                           "fixed)"]
    assert all("\n" not in line for line in peer.logged)


def test_the_fetching_host_failing_in_this_run_stops_the_wait_before_any_poll():
    peer = Peer(["waiting"])
    assert wait(peer, failed_hosts=["cpu-1"]) is False
    assert peer.polls == 0
    assert peer.logged == ["host cpu-1: failed in this run (its errors are above); cpu-2 installs from it, so it "
                           "stops too (rerun once it is fixed)"]


def test_a_silent_fetching_host_is_given_up_on_after_the_timeout_and_a_busy_one_is_not():
    silent = Peer(["unanswered"])
    assert wait(silent) is False
    assert silent.logged[-1].startswith("host cpu-1: did not serve the packages within 300 s")
    # Still fetching (its server answers) for longer than the timeout: waited for, then installed.
    busy = Peer(["waiting"] * 400 + ["ready"])
    assert wait(busy) is True
    assert not any(line.startswith("host cpu-1") for line in busy.logged)


def test_the_poll_reads_the_failure_before_the_parts():
    command = fanout_operations.poll_command(FANOUT, PARTS)
    assert command.index("http://10.0.0.1:8098/failed") < command.index("http://10.0.0.1:8098/tools/uv/x86_64/ready")
    assert "http://10.0.0.1:8098/python/vllm-0.23.0-7696d2e1/ready" in command


def test_on_the_fetching_host_a_stopped_server_is_a_failure_at_once(tmp_path):
    """Its peers poll its server, so they cannot read a failure from a server that stopped; the
    fetching host itself sees it in systemd and fails, which stops them (failed_hosts)."""
    import subprocess

    (tmp_path / "systemctl").write_text('#!/bin/sh\n[ "$1 $2 $3" = "is-failed --quiet '
                                        'glmstack-packages-share.service" ]\n')
    (tmp_path / "systemctl").chmod(0o755)
    (tmp_path / "curl").write_text("#!/bin/sh\nexit 7\n")  # nothing answers
    (tmp_path / "curl").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}

    def poll(on_seed: bool) -> str:
        command = fanout_operations.poll_command(FANOUT, PARTS, on_seed=on_seed)
        return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True).stdout.strip()

    assert poll(on_seed=True) == ("failed its packages server stopped "
                                  "(journalctl -u glmstack-packages-share.service)")
    assert poll(on_seed=False) == "unanswered"
    seed = Peer(["failed its packages server stopped (journalctl -u glmstack-packages-share.service)"], name="cpu-1")
    assert wait(seed) is False and seed.polls == 1
    assert seed.logged == ["host cpu-1: its packages server stopped (journalctl -u glmstack-packages-share.service); "
                           "cpu-1 installs from it, so it stops too (rerun once it is fixed)"]
