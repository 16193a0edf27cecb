"""The gateway role's plan (GatewayPlan): where HAProxy listens, the engine it fronts, the TLS
files, the API key, and the replica group's members.

plan_gateway makes a host's own part (its settings checked, one problem per line); link_gateway_groups
then fills in each member's peers once every host is planned, and group_problems checks that a
group's hosts serve the same model alone, before any host is touched.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmstack.checks import loopback
from glmstack.values import url_host

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig

# The engine's loopback port and the group's port, unless the host says: away from the public one.
ENGINE_PORT_OFFSET = 10000
# A name or address for the certificate's SANs: a DNS name (labels of letters, digits, -) or an IP.
_DNS_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*")


@dataclass(frozen=True)
class GatewayPeer:
    """Another member of the replica group: its gateway's group port, which reaches its engine."""

    name: str  # its inventory name
    address: str
    port: int


@dataclass(frozen=True)
class GatewayPlan:
    """HAProxy on this host: TLS on `port` (what clients use), the key checked, the engine behind."""

    port: int  # the public port: the host's `port` (the engine's default without one)
    address: str  # the address clients reach this host on
    engine_address: str  # the engine's: loopback
    engine_port: int
    peer_port: int  # the group's plain-HTTP frontend (only with a group)
    health_path: str  # open without a key (probes); the engine's
    tls_dir: str  # on the host: the CA, the server's certificate and key
    haproxy_config: str  # /etc/haproxy/haproxy.cfg, which the distribution's unit reads
    acl_file: str  # the accepted `Authorization` values, one per line (0600 root)
    key_file: str | None  # the API key clients send (0600 root); None: no key checked
    local_key_file: Path | None = None  # the operator's key to install (service_api_key_file)
    tls_cert_file: Path | None = None  # the operator's certificate and key (local files)
    tls_key_file: Path | None = None
    tls_names: tuple[str, ...] = ()  # the made certificate's SANs: DNS names and IP addresses
    timeout: int = 3600
    group: str | None = None
    members: tuple[str, ...] = ()  # the group's inventory names, this host among them; alone: itself
    peers: tuple[GatewayPeer, ...] = ()  # the group's other members
    host_name: str = ""  # this host's inventory name

    @property
    def packages(self) -> tuple[str, ...]:
        """The OS packages the gateway installs (run_gateway; a bundle carries the same)."""
        return ("haproxy", "openssl", "nftables") if self.group else ("haproxy", "openssl")

    @property
    def url(self) -> str:
        """What clients use: https://<address>:<port>."""
        return f"https://{url_host(self.address)}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"

    @property
    def ca_file(self) -> str:
        """The CA certificate (0644) operators fetch and trust; the operator's own certificate when given."""
        return posixpath.join(self.tls_dir, "ca.crt")

    @property
    def ca_key_file(self) -> str:
        return posixpath.join(self.tls_dir, "ca.key")

    @property
    def cert_file(self) -> str:
        return posixpath.join(self.tls_dir, "server.crt")

    @property
    def server_key_file(self) -> str:
        return posixpath.join(self.tls_dir, "server.key")

    @property
    def pem_file(self) -> str:
        """The certificate and its key in one file, as HAProxy reads it (0600 root)."""
        return posixpath.join(self.tls_dir, "server.pem")

    @property
    def engine_health_url(self) -> str:
        return f"http://{url_host(self.engine_address)}:{self.engine_port}{self.health_path}"

    @property
    def made_tls(self) -> bool:
        """The host makes its CA and certificate (no operator's certificate given)."""
        return self.tls_cert_file is None

    @property
    def firewall_file(self) -> str:
        return posixpath.join(posixpath.dirname(self.tls_dir), "gateway.nft")


def derived_port(port: int) -> int:
    return port + ENGINE_PORT_OFFSET if port + ENGINE_PORT_OFFSET + 1 <= 65535 else port - ENGINE_PORT_OFFSET


def san_problem(name: str) -> str | None:
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if _DNS_NAME.fullmatch(name):
        return None
    return f"{name!r} is neither a DNS name nor an IP address; allowed: letters, digits, - and . (a name), or an IP"


def _tls_file_problems(config: HostConfig) -> list[tuple[str, str]]:
    cert, key = config.gateway_tls_cert_file, config.gateway_tls_key_file
    if (cert is None) != (key is None):
        given, missing = ("gateway_tls_cert_file", "gateway_tls_key_file") if key is None else \
            ("gateway_tls_key_file", "gateway_tls_cert_file")
        return [(missing, f"{given} is given without it; give both (certificate and its key), or neither "
                          "(the host makes them)")]
    problems = []
    if cert is not None:
        path = Path(cert)
        if not path.is_file():
            problems.append(("gateway_tls_cert_file", "is not a file on this machine; give a PEM certificate file"))
        elif "-----BEGIN CERTIFICATE-----" not in path.read_text(errors="replace"):
            problems.append(("gateway_tls_cert_file", "is not a PEM certificate; give -----BEGIN CERTIFICATE----- "
                                                      "blocks (the server's first)"))
        elif "PRIVATE KEY" in path.read_text(errors="replace"):
            problems.append(("gateway_tls_cert_file", "holds a private key; give the key in gateway_tls_key_file "
                                                      "(0600) and the certificate alone here"))
    if key is not None:
        path = Path(key)
        # Never the content: the file is a secret.
        if not path.is_file():
            problems.append(("gateway_tls_key_file", "is not a file on this machine (the value is not shown); give "
                                                     "the path of a 0600 PEM private key file"))
        elif stat.S_IMODE(path.stat().st_mode) & 0o077:
            problems.append(("gateway_tls_key_file", f"{key} is readable by others; chmod 600 it"))
        elif "PRIVATE KEY-----" not in path.read_text(errors="replace"):
            problems.append(("gateway_tls_key_file", "is not a PEM private key; give a -----BEGIN ... PRIVATE KEY----- "
                                                     "file"))
    return problems


def gateway_on(config: HostConfig, rank: int = 0) -> bool:
    """The gateway fronts the engine on a host that serves the API, unless the host data says not."""
    return bool(config.gateway_enabled) and rank == 0


def engine_bind_host(config: HostConfig) -> str:
    """Where the engine behind the gateway listens: the loopback address given, else 127.0.0.1."""
    bind = config.service_bind_host
    return bind if loopback(bind) and bind != "localhost" else "127.0.0.1"


def engine_side(config: HostConfig, gateway: GatewayPlan) -> HostConfig:
    """The host's settings as the engine behind the gateway reads them: loopback, its own port."""
    return config.model_copy(update={"service_bind_host": gateway.engine_address, "port": gateway.engine_port})


def plan_gateway(host: str, config: HostConfig, catalog: Catalog, problems: list, rank: int = 0,
                 other_ports: dict[int, str] | None = None, recipe_port: int | None = None) -> GatewayPlan | None:
    """The gateway in front of the engine on a host serving the API; None when it is turned off
    (or on a node that does not serve it). `config`: the host's settings as given."""
    if not gateway_on(config, rank):
        if config.gateway_group is not None and not config.gateway_enabled:
            problems.append(("gateway_group", "a replica group needs the gateway; drop gateway_group or set "
                                              "gateway_enabled: true"))
        return None
    engine = catalog.engines[config.engine]
    if "service_bind_host" in config.model_fields_set and not loopback(config.service_bind_host):
        problems.append(("service_bind_host", f"{config.service_bind_host!r}: with the gateway on, the engine "
                                              "listens on loopback only and the gateway on the network; allowed: "
                                              "127.0.0.1, ::1 or localhost, or gateway_enabled: false"))
    # Clients keep the port the recipe's seed serves on (seed 001's SGLang: 8000).
    port = config.port or recipe_port or engine.default_port
    inner = config.gateway_engine_port if config.gateway_engine_port is not None else derived_port(port)
    peer = config.gateway_peer_port if config.gateway_peer_port is not None else inner + 1
    if peer > 65535:
        peer = inner - 1
    taken = {port: "port (the gateway's)"}
    for value, field, what in ((inner, "gateway_engine_port", "the engine's port"),
                               (peer, "gateway_peer_port", "the group's port")):
        if value in taken:
            problems.append((field, f"{what} {value} is also {taken[value]}; allowed: a port no other use of "
                                    "this host takes"))
        taken.setdefault(value, field)
    for value, what in (other_ports or {}).items():
        # (`port` against them: glmstack.topology.port_problems)
        for mine, field in ((inner, "gateway_engine_port"), (peer, "gateway_peer_port")):
            if mine == value:
                problems.append((field, f"{mine} is also {what}; allowed: a port no other use of this host takes"))
    for name in config.gateway_tls_names:
        if (problem := san_problem(name)) is not None:
            problems.append(("gateway_tls_names", problem))
    if config.gateway_tls_names and config.gateway_tls_cert_file is not None:
        problems.append(("gateway_tls_names", "names for a made certificate, but gateway_tls_cert_file is given; "
                                              "drop one of the two"))
    problems += _tls_file_problems(config)
    if config.gateway_group is not None and config.deployment is not None:
        problems.append(("gateway_group", f"deployment {config.deployment!r} spreads one engine over several "
                                          "nodes; a replica group's hosts each serve the model alone (drop one of "
                                          "the two)"))
    address = config.address or host
    # The host's address and name where a certificate can name them (a pyinfra connector's "@..."
    # name cannot be), then the operator's.
    names = tuple(dict.fromkeys([*(name for name in (address, host) if san_problem(name) is None),
                                 *config.gateway_tls_names])) or ("localhost",)
    key_file: str | None = None
    if config.service_require_api_key is not False:
        key_file = posixpath.join(config.base_config_dir, f"{engine.unit_name}.api-key")
    elif config.service_api_key_file is not None:
        problems.append(("service_api_key_file", "a key is given but service_require_api_key is false; drop one of "
                                                 "the two"))
    tls_dir = posixpath.join(config.base_config_dir, "gateway")
    return GatewayPlan(
        port=port, address=address, engine_address=engine_bind_host(config), engine_port=inner,
        peer_port=peer, health_path=engine.health_path, tls_dir=tls_dir, haproxy_config="/etc/haproxy/haproxy.cfg",
        acl_file=posixpath.join(tls_dir, "api-keys.acl"), key_file=key_file,
        local_key_file=config.service_api_key_file if key_file else None,
        tls_cert_file=Path(config.gateway_tls_cert_file) if config.gateway_tls_cert_file else None,
        tls_key_file=Path(config.gateway_tls_key_file) if config.gateway_tls_key_file else None,
        tls_names=names, timeout=config.gateway_timeout, group=config.gateway_group, members=(host,),
        host_name=host,
    )


# What a replica group's members must share: they serve one model under one name, with one engine.
GROUP_KEYS = ("model", "served_model_name", "engine")


def group_problems(validated: dict[str, tuple[Any, Any]]) -> list[str]:
    """One line per host whose replica group it cannot join (the first member is the reference)."""
    groups: dict[str, list[str]] = {}
    for name, (config, _) in validated.items():
        if config.gateway_group is not None:
            groups.setdefault(config.gateway_group, []).append(name)
    errors = []
    for group, names in groups.items():
        first = validated[names[0]][0]
        for name in names[1:]:
            config = validated[name][0]
            for key in GROUP_KEYS:
                mine, theirs = getattr(config, key), getattr(first, key)
                if key == "served_model_name":
                    mine, theirs = mine or config.model, theirs or first.model
                if mine != theirs:
                    errors.append(f"host {name}: field {key}: replica group {group!r} serves one model: "
                                  f"{theirs!r} as on {names[0]}; allowed: the same on every member")
                    break
    return errors


def link_gateway_groups(plans: list) -> list:
    """Each group member's gateway with every other member as a peer (inventory order)."""
    groups: dict[str, list] = {}
    for plan in plans:
        if plan.gateway is not None and plan.gateway.group is not None:
            groups.setdefault(plan.gateway.group, []).append(plan)
    linked = []
    for plan in plans:
        gateway = plan.gateway
        if gateway is None or gateway.group is None:
            linked.append(plan)
            continue
        members = groups[gateway.group]
        peers = tuple(GatewayPeer(name=other.host, address=other.gateway.address, port=other.gateway.peer_port)
                      for other in members if other.host != plan.host)
        linked.append(dataclasses.replace(plan, gateway=dataclasses.replace(
            gateway, members=tuple(other.host for other in members), peers=peers)))
    return linked
