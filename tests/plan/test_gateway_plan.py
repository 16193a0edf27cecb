"""Plan tests of the gateway role on a CPU host (tests/plan/fakehost.py, gpu_states.ConstructedHost):
what a first deploy runs, that a converged gateway changes nothing, and that a new key reaches
HAProxy by a reload (never a restart) without the key in any command."""

from __future__ import annotations

import pytest
from fakehost import run_deploy
from gpu_states import ConstructedHost, captured
from plan_data import PLAN_DATA

from roles.gateway.render import DROP_IN, rendered_files

DATA = {**PLAN_DATA, "gateway_enabled": True, "address": "10.213.0.11"}
TLS_STATE = "for f in ca.key ca.crt server.key server.crt server.pem"
KEY_ACL = "[ -s /etc/glmstack/llama-server.api-key ]"
MADE = ["ca.key root 600", "ca.crt root 644", "server.key root 600", "server.crt root 644", "server.pem root 600",
        "current"]


def converged() -> ConstructedHost:
    """The captured converged CPU host (its engine as before the gateway) with the gateway in place."""
    state = ConstructedHost(DATA, [])
    state.base = captured("debian12-converged")
    state.packages(("haproxy", "2.6.12-1+deb12u4"), ("openssl", "3.0.17-1~deb12u3"))
    for path, (content, mode) in rendered_files(state.plan).items():
        state.file(path, content, "-rw-r--r--" if mode == "644" else "-rw-------")
    state.directory("/etc/glmstack/gateway", "drwx------")
    state.directory("/etc/haproxy")
    state.directory("/etc/systemd/system/haproxy.service.d")
    state.unit("haproxy")
    state.answer(TLS_STATE, MADE)
    return state.answer(KEY_ACL, ["9f86d081884c7d65", "current"])


def test_a_fresh_host_gets_haproxy_after_the_engine_with_a_made_certificate_and_key():
    fresh = ConstructedHost(DATA, [])
    fresh.base = captured("debian12-fresh")
    run = run_deploy(DATA, fresh.responses())
    run.assert_in_order(["systemctl start llama-server.service", "install --no-install-recommends haproxy",
                         "openssl genpkey", "head -c 32 /dev/urandom", "printf 'Bearer %s\\n'",
                         "chmod 644 /etc/systemd/system/haproxy.service.d/glmstack.conf",
                         "chmod 644 /etc/haproxy/haproxy.cfg",
                         "systemctl restart haproxy.service", "https://10.213.0.11:8080/health"])
    # Its sandbox is new: the distribution's HAProxy is restarted into it once.
    assert not run.ran("systemctl reload haproxy")


def test_a_converged_gateway_changes_nothing():  # (the engine's own steps: tests/plan/test_cpu_plan.py)
    run = run_deploy(DATA, converged().responses())
    gateway = [name for name in run.changed if name.startswith("glmstack gateway")]
    assert gateway == []


def test_a_new_key_reaches_haproxy_by_a_reload_without_the_key_in_a_command():
    state = converged().answer(KEY_ACL, ["0123456789abcdef"])  # the ACL lags the key file
    run = run_deploy(DATA, state.responses())
    changed = [name for name in run.changed if name.startswith("glmstack gateway")]
    assert changed == ["glmstack gateway | Gateway API key ACL (0600, root only)",
                       "glmstack gateway | Reload haproxy (hitless) and wait for the gateway"]
    assert run.ran("systemctl reload haproxy.service") and not run.ran("systemctl restart haproxy")


@pytest.mark.parametrize("path", ["/etc/haproxy/haproxy.cfg", DROP_IN])
def test_a_changed_file_is_rewritten(path):
    state = converged()
    state.file(path, "# edited by hand\n", "-rw-r--r--")
    run = run_deploy(DATA, state.responses())
    assert run.ran(path)
    assert run.ran("systemctl restart haproxy.service" if path == DROP_IN else "systemctl reload haproxy.service")
