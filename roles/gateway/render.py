"""The gateway role's files and commands, rendered from a plan with the templates beside this module:
what the deploy writes (roles/gateway/operations.py), `glmstack render` shows and the planner makes
once (glmstack.hostfiles). No pyinfra here."""

from __future__ import annotations

import ipaddress
from typing import Any

from glmstack.quoting import nft_address, nft_identifier, shell_word
from glmstack.templating import role_templates

DeployPlan = Any  # a glmstack.plan.DeployPlan (not imported: the schema imports each role's defaults)

SERVICE = "haproxy.service"
DROP_IN = "/etc/systemd/system/haproxy.service.d/glmstack.conf"
FIREWALL_TABLE = "glmstack_gateway"

_templates = role_templates(__file__)


def render(template: str, **values: Any) -> str:
    return _templates.get_template(template).render(**values)


def render_command(template: str, **values: Any) -> str:
    """A one-line shell command from a template written over several lines for reading."""
    return " ".join(line.strip() for line in render(template, **values).splitlines() if line.strip())


def _v6(gateway: Any) -> bool:
    return ":" in gateway.address or any(":" in peer.address for peer in gateway.peers)


def haproxy_config(plan: DeployPlan) -> str:
    """/etc/haproxy/haproxy.cfg for the plan's gateway."""
    return render("haproxy.cfg.j2", g=plan.gateway, v6=_v6(plan.gateway))


def hardening_drop_in(plan: DeployPlan) -> str:
    gateway = plan.gateway
    return render("haproxy-hardening.conf.j2", firewall=gateway.firewall_file if gateway.group else None)


def group_firewall(plan: DeployPlan) -> str:
    """nftables rules: the group's port answers the group's members (and this host) only."""
    gateway = plan.gateway
    allowed = [nft_address(address, "address") for address in
               (gateway.address, *(peer.address for peer in gateway.peers))]
    return render("gateway.nft.j2", table=nft_identifier(FIREWALL_TABLE), port=gateway.peer_port,
                  v4=sorted({a for a in allowed if ":" not in a} | {"127.0.0.0/8"}),
                  v6=sorted({a for a in allowed if ":" in a} | {"::1"}))


def subject_alt_names(plan: DeployPlan) -> str:
    """The made certificate's SANs, as openssl's subjectAltName reads them (IP: or DNS:)."""
    names = []
    for name in plan.gateway.tls_names:
        try:
            names.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            names.append(f"DNS:{name}")
    return ",".join(dict.fromkeys(names))


def make_tls_command(plan: DeployPlan) -> str:
    gateway = plan.gateway
    return render_command("make-tls.sh.j2", dir=gateway.tls_dir, host=gateway.address,
                          sans=subject_alt_names(plan))


def key_acl_command(plan: DeployPlan) -> str:
    gateway = plan.gateway
    return render_command("api-keys-acl.sh.j2", key_file=gateway.key_file, acl_file=gateway.acl_file)


def health_command(plan: DeployPlan) -> str:
    """The gateway's health path over TLS, checked against the CA clients trust (made certificates)."""
    gateway = plan.gateway
    trust = f"--cacert {shell_word(gateway.ca_file)}" if gateway.made_tls else "--insecure"
    return f"curl -fsS --max-time 5 -o /dev/null {trust} {shell_word(gateway.health_url)}"


def rendered_files(plan: DeployPlan) -> dict[str, tuple[str, str]]:
    """Path on the host -> (content, mode) of every file the gateway role renders (`glmstack render`)."""
    gateway = plan.gateway
    rendered = {gateway.haproxy_config: (haproxy_config(plan), "644"), DROP_IN: (hardening_drop_in(plan), "644")}
    if gateway.group:
        rendered[gateway.firewall_file] = (group_firewall(plan), "644")
    return rendered
