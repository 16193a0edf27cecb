"""The gateway role's plan and files: on by default, the engine behind it on loopback without a
key, TLS and the key at the gateway, replica groups, and values HAProxy's syntax cannot hold."""

from __future__ import annotations

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import InventoryError, resolve, resolve_inventory
from glmstack.quoting import Unrepresentable, haproxy_address, haproxy_name, haproxy_path, haproxy_word
from glmstack.render import render_unit
from roles.gateway.render import group_firewall, haproxy_config, hardening_drop_in, make_tls_command

SGLANG_001 = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "sglang"}


def test_seed_001_sglang_plans_by_default_behind_the_gateway_without_a_key_in_its_arguments():
    plan = resolve("node1", SGLANG_001)
    argv = list(plan.serve_argv)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "18000"
    assert "--api-key" not in argv and plan.api_key is None
    gateway = plan.gateway
    assert (gateway.url, gateway.port, gateway.engine_port) == ("https://node1:8000", 8000, 18000)
    assert gateway.key_file == "/etc/glmstack/sglang.api-key"
    assert gateway.ca_file == "/etc/glmstack/gateway/ca.crt"
    assert gateway.health_url == "https://node1:8000/health"
    assert gateway.group is None and gateway.members == ("node1",)
    assert "api-key" not in render_unit(plan)


def test_the_gateway_off_keeps_the_engine_on_the_network_with_its_key():
    plan = resolve("node1", {**CPU_MIRROR, "gateway_enabled": False})
    assert plan.gateway is None and plan.port == 8080 and plan.api_key is not None


def test_haproxy_checks_the_key_everywhere_but_health_and_reaches_the_engine_on_loopback():
    plan = resolve("node1", {**CPU_MIRROR, "port": 8443})
    config = haproxy_config(plan)
    assert "bind 0.0.0.0:8443 ssl crt '/etc/glmstack/gateway/server.pem'" in config
    assert "acl health path '/health'" in config
    assert "acl key_ok req.hdr(authorization) -f '/etc/glmstack/gateway/api-keys.acl'" in config
    assert "if !health !key_given" in config and "if !health !key_ok" in config
    assert "server local 127.0.0.1:18443" in config
    assert "option httpchk GET '/health'" in config
    assert "retry-on conn-failure empty-response 502 503" in config and "option redispatch" in config
    assert "option http-buffer-request" in config and "tune.bufsize 262144" in config
    assert "frontend group" not in config


def test_no_key_check_when_the_host_says_so():
    plan = resolve("node1", {**CPU_MIRROR, "service_require_api_key": False})
    assert plan.gateway.key_file is None and "key_ok" not in haproxy_config(plan)


def test_a_replica_group_balances_over_every_member_and_filters_its_port():
    group = {**CPU_MIRROR, "gateway_group": "tiny"}
    plans = resolve_inventory([(f"10.0.0.{n}", group) for n in (1, 2, 3)])
    first = plans[0]
    assert first.gateway.members == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert [peer.address for peer in first.gateway.peers] == ["10.0.0.2", "10.0.0.3"]
    config = haproxy_config(first)
    assert "server peer-10.0.0.2 10.0.0.2:18081" in config and "server peer-10.0.0.3 10.0.0.3:18081" in config
    assert "bind 0.0.0.0:18081" in config
    rules = group_firewall(first)
    assert "tcp dport 18081 ip saddr { 10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.0/8 } accept" in rules
    assert "tcp dport 18081 drop" in rules
    assert "ExecStartPre=+/usr/sbin/nft -f /etc/glmstack/gateway.nft" in hardening_drop_in(first)


def test_the_drop_in_hardens_haproxy_like_the_engine_units():
    drop_in = hardening_drop_in(resolve("node1", CPU_MIRROR))
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateDevices=yes",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_KILL"):
        assert line in drop_in


def test_the_made_certificate_names_the_hosts_address_and_name():
    plan = resolve("node1", {**CPU_MIRROR, "address": "10.0.0.5", "gateway_tls_names": ["api.lab.example"]})
    command = make_tls_command(plan)
    assert " IP:10.0.0.5,DNS:node1,DNS:api.lab.example > server.ext" in command
    assert "[ -s ca.key ] ||" in command and "chmod 644 ca.crt" in command


@pytest.mark.parametrize(("data", "expected"), [
    ({"service_bind_host": "0.0.0.0"}, "field service_bind_host: '0.0.0.0': with the gateway on"),
    ({"gateway_engine_port": 8080}, "field gateway_engine_port: the engine's port 8080 is also port"),
    ({"gateway_peer_port": 8097}, "field gateway_peer_port: 8097 is also model_share_port"),
    ({"gateway_tls_names": ["bad name"]}, "field gateway_tls_names: 'bad name' is neither a DNS name"),
    ({"gateway_enabled": False, "gateway_group": "g"}, "field gateway_group: a replica group needs the gateway"),
])
def test_bad_gateway_settings_get_one_line(data, expected):
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("node1", {**CPU_MIRROR, **data})])
    assert len(str(error.value).splitlines()) == 1 and expected in str(error.value)


def test_a_certificate_without_its_key_and_a_world_readable_key_are_refused(tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
    key.chmod(0o644)
    with pytest.raises(InventoryError, match="field gateway_tls_key_file: gateway_tls_cert_file is given without it"):
        resolve_inventory([("node1", {**CPU_MIRROR, "gateway_tls_cert_file": str(cert)})])
    with pytest.raises(InventoryError, match="field gateway_tls_key_file: .* is readable by others; chmod 600 it"):
        resolve_inventory([("node1", {**CPU_MIRROR, "gateway_tls_cert_file": str(cert),
                                      "gateway_tls_key_file": str(key)})])
    key.chmod(0o600)
    plan = resolve("node1", {**CPU_MIRROR, "gateway_tls_cert_file": str(cert), "gateway_tls_key_file": str(key)})
    assert plan.gateway.tls_key_file == key and not plan.gateway.made_tls


def test_group_members_must_serve_one_model_alone():
    group = {**CPU_MIRROR, "gateway_group": "tiny"}
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("10.0.0.1", group), ("10.0.0.2", {**group, "served_model_name": "other"})])
    assert str(error.value) == ("host 10.0.0.2: field served_model_name: replica group 'tiny' serves one model: "
                                "'glm-5.2-tiny-test' as on 10.0.0.1; allowed: the same on every member")


def test_haproxy_quoting_refuses_what_its_syntax_cannot_hold():
    assert haproxy_word("/health") == "'/health'"
    assert haproxy_word("a b#c$d") == "'a b#c$d'"
    assert haproxy_address("10.0.0.1", 8000) == "10.0.0.1:8000"
    assert haproxy_address("::1", 18000) == "ipv6@::1:18000"
    assert haproxy_address("node-1.lab", 80) == "node-1.lab:80"
    assert haproxy_name("peer-10.0.0.2") == "peer-10.0.0.2"
    assert haproxy_path("/etc/x.pem") == "'/etc/x.pem'"
    for bad in (lambda: haproxy_word("it's"), lambda: haproxy_word("a\nbind :1"), lambda: haproxy_name("a b"),
                lambda: haproxy_address("a b", 80), lambda: haproxy_address("10.0.0.1", "1-2"),
                lambda: haproxy_address("10.0.0.1", 0), lambda: haproxy_path("relative.pem"),
                lambda: haproxy_word("a\u2028b")):
        with pytest.raises(Unrepresentable):
            bad()


def test_a_bundle_carries_the_gateways_packages():
    """A lab without a route out installs HAProxy from the bundle: its apt closure starts from them
    (the CPU bundle lacked haproxy once the gateway was on by default)."""
    from glmstack.os_packages import bundle_packages

    assert {"haproxy", "openssl"} <= set(bundle_packages(resolve("node1", CPU_MIRROR)))
    assert "haproxy" not in bundle_packages(resolve("node1", {**CPU_MIRROR, "gateway_enabled": False}))
