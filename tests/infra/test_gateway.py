"""The gateway (roles/gateway) in front of the engine: HAProxy running in its sandbox, TLS with the
CA the host made, the API key required on every route but /health, its files root only."""

from __future__ import annotations

import shlex

import pytest


@pytest.fixture
def gateway(plan):
    if plan.gateway is None:
        pytest.skip(f"{plan.host} serves without the gateway")
    return plan.gateway


def status(host, gateway, path: str, header: str = "") -> str:
    """The HTTP status the gateway answers on the host itself, over TLS checked against its CA."""
    trust = f"--cacert {shlex.quote(gateway.ca_file)}" if gateway.made_tls else "--insecure"
    return host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 30 {trust} {header} "
                             f"{shlex.quote(gateway.url + path)}")


def test_haproxy_runs_enabled_in_its_sandbox(host, gateway):
    service = host.service("haproxy.service")
    assert service.is_running and service.is_enabled
    assert host.check_output("systemctl show -p ProtectSystem --value haproxy.service") == "strict"
    assert host.check_output("systemctl show -p NoNewPrivileges --value haproxy.service") == "yes"


def test_the_gateway_listens_on_the_port_and_the_engine_on_loopback_only(host, plan, gateway):
    assert host.socket(f"tcp://0.0.0.0:{gateway.port}").is_listening
    assert host.socket(f"tcp://{gateway.engine_address}:{gateway.engine_port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{gateway.engine_port}").is_listening


def test_health_is_open_and_the_api_needs_the_key(host, gateway):
    assert status(host, gateway, gateway.health_path) == "200"
    if gateway.key_file is None:
        pytest.skip("service_require_api_key: false")
    assert status(host, gateway, "/v1/models") == "401"
    assert status(host, gateway, "/v1/models", "-H 'Authorization: Bearer not-the-key'") == "403"
    # The key reaches curl on its standard input, never as an argument.
    key = shlex.quote(gateway.key_file)
    assert host.check_output(
        f"printf 'header = \"Authorization: Bearer %s\"\\n' \"$(cat {key})\" | curl --config - -s -o /dev/null "
        f"-w '%{{http_code}}' --max-time 30 --cacert {shlex.quote(gateway.ca_file)} "
        f"{shlex.quote(gateway.url + '/v1/models')}") == "200"


def test_keys_are_root_only_and_the_ca_certificate_is_readable(host, gateway):
    private = [gateway.pem_file, gateway.server_key_file] + ([gateway.acl_file, gateway.key_file]
                                                             if gateway.key_file else [])
    if gateway.made_tls:
        private.append(gateway.ca_key_file)
    for path in private:
        secret = host.file(path)
        assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600), path
    assert host.file(gateway.ca_file).mode == 0o644
