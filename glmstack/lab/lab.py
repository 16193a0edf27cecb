"""Lab lifecycle: up, down, status and inventory, driven by one recorded state file.

Every process, link, rule and directory the lab makes is written to the state file as it is
made, so `down` removes exactly those, even after an interrupted `up`.
"""

from __future__ import annotations

import json
import os
import pprint
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmstack.lab import network, nodes
from glmstack.lab.host import LabError, ensure_tools, run
from glmstack.lab.rootfs import cached_rootfs


@dataclass(frozen=True)
class LabPaths:
    state_dir: Path
    cache_dir: Path

    @classmethod
    def from_env(cls) -> LabPaths:
        return cls(
            state_dir=Path(os.environ.get("GLMSTACK_LAB_DIR", "/var/lib/glmstack-lab")),
            cache_dir=Path(os.environ.get("GLMSTACK_LAB_CACHE", "/var/cache/glmstack-lab")),
        )

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def ssh_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.py"

    @property
    def ccache(self) -> Path:
        return self.cache_dir / "ccache"

    def node_root(self, name: str) -> Path:
        return self.state_dir / "nodes" / name / "root"

    def node_log(self, name: str) -> Path:
        return self.state_dir / "nodes" / name / "console.log"


def load_state(paths: LabPaths) -> dict[str, Any]:
    if paths.state_file.exists():
        return json.loads(paths.state_file.read_text())
    return {"nodes": []}


def save_state(paths: LabPaths, state: dict[str, Any]) -> None:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    partial = paths.state_file.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2))
    partial.replace(paths.state_file)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab boots containers and changes the network: run it as root")


def _ensure_key(paths: LabPaths) -> str:
    if not paths.ssh_key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "glmstack-lab",
             "-f", str(paths.ssh_key)])
    return paths.ssh_key.with_suffix(".pub").read_text()


def up(count: int, paths: LabPaths | None = None, route_out: bool = True) -> list[dict[str, Any]]:
    """Boot nodes until `count` are running; already running nodes are kept as they are. Without
    route_out the lab has no NAT: its nodes reach each other and this machine, nothing outside."""
    if count < 1 or count > 200:
        raise LabError(f"--nodes must be between 1 and 200 (got {count})")
    _require_root()
    paths = paths or LabPaths.from_env()
    ensure_tools()
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.state_dir, 0o700)
    state = load_state(paths)
    state["state_dir"] = str(paths.state_dir)
    public_key = _ensure_key(paths)
    try:
        network.bridge_up(state)
        if route_out:
            network.nat_up(state)
        else:
            network.no_route_out(state)
    finally:
        save_state(paths, state)
    tarball = cached_rootfs(paths.cache_dir)

    running = {n["name"]: n for n in state["nodes"]
               if nodes.is_our_nspawn(n["pid"], Path(n["root"]))}
    state["nodes"] = [n for n in state["nodes"] if n["name"] in running]
    recorded = {n["pid"] for n in running.values()}
    for pid, root in nodes.nspawns_under(paths.state_dir / "nodes"):
        if pid not in recorded:
            nodes.stop(pid, root)
    for index in range(count):
        name = nodes.node_name(index)
        if name in running:
            continue
        root = paths.node_root(name)
        record = {"name": name, "address": network.node_address(index), "root": str(root), "pid": None}
        state["nodes"].append(record)
        save_state(paths, state)
        nodes.create(index, root, tarball, public_key)
        log = paths.node_log(name)
        log.unlink(missing_ok=True)
        record["pid"] = nodes.boot(root, name, log, paths.ccache)
        save_state(paths, state)
    for record in state["nodes"]:
        nodes.wait_for_ssh(record["address"], record["pid"], paths.node_log(record["name"]))
    return state["nodes"]


def reboot(address: str, paths: LabPaths | None = None) -> dict[str, Any]:
    """Reboot one node as a machine reboots: an orderly shutdown, then a boot of the same disk."""
    stop_node(address, paths)
    return start_node(address, paths)


def _node_record(address: str, paths: LabPaths) -> tuple[dict[str, Any], dict[str, Any]]:
    _require_root()
    state = load_state(paths)
    record = next((n for n in state["nodes"] if n["address"] == address), None)
    if record is None:
        raise LabError(f"no lab node has address {address}")
    return state, record


def stop_node(address: str, paths: LabPaths | None = None) -> None:
    """Shut one node down, as a machine is powered off after an orderly shutdown; its disk stays."""
    paths = paths or LabPaths.from_env()
    state, record = _node_record(address, paths)
    if record.get("pid"):
        nodes.stop(record["pid"], Path(record["root"]))
    record["pid"] = None
    save_state(paths, state)


def start_node(address: str, paths: LabPaths | None = None) -> dict[str, Any]:
    """Boot a stopped node from its disk and wait for its sshd."""
    paths = paths or LabPaths.from_env()
    state, record = _node_record(address, paths)
    record["pid"] = nodes.boot(Path(record["root"]), record["name"], paths.node_log(record["name"]), paths.ccache)
    save_state(paths, state)
    nodes.wait_for_ssh(record["address"], record["pid"], paths.node_log(record["name"]))
    return record


def down(paths: LabPaths | None = None, purge_cache: bool = False) -> list[str]:
    """Stop every node the lab started and remove what it made; return what was removed."""
    _require_root()
    paths = paths or LabPaths.from_env()
    state = load_state(paths)
    removed = []
    for record in state.get("nodes", []):
        if record.get("pid"):
            nodes.stop(record["pid"], Path(record["root"]))
        removed.append(f"node {record['name']} (pid {record.get('pid')})")
    for pid, root in nodes.nspawns_under(paths.state_dir / "nodes"):
        nodes.stop(pid, root)
        removed.append(f"unrecorded node at {root} (pid {pid})")
    network.network_down(state)
    if state.get("bridge"):
        removed.append(f"bridge {network.BRIDGE}")
    if state.get("nft_table"):
        removed.append(f"nftables table inet {network.NFT_TABLE}")
    if paths.state_dir.exists():
        shutil.rmtree(paths.state_dir)
        removed.append(f"directory {paths.state_dir}")
    if purge_cache and paths.cache_dir.exists():
        shutil.rmtree(paths.cache_dir)
        removed.append(f"directory {paths.cache_dir}")
    return removed


def node_connection(address: str, paths: LabPaths | None = None):
    """A testinfra connection to a lab node as root, with the lab's key (testinfra is a test extra)."""
    import testinfra

    paths = paths or LabPaths.from_env()
    return testinfra.get_host(f"paramiko://root@{address}", ssh_identity_file=str(paths.ssh_key))


def ssh_answers(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=2) as conn:
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def status(paths: LabPaths | None = None) -> list[dict[str, Any]]:
    paths = paths or LabPaths.from_env()
    rows = []
    for record in load_state(paths).get("nodes", []):
        alive = bool(record.get("pid")) and nodes.is_our_nspawn(record["pid"], Path(record["root"]))
        rows.append({**record, "running": alive, "ssh": alive and ssh_answers(record["address"])})
    return rows


def host_trust_and_proxy() -> dict[str, Any]:
    """What this machine trusts and which proxies it uses, so nodes reach what the host reaches."""
    data: dict[str, Any] = {}
    extra_certs = sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    if extra_certs:
        data["base_extra_ca_certs"] = extra_certs
    for variable, key in (("https_proxy", "base_https_proxy"), ("http_proxy", "base_http_proxy"),
                          ("no_proxy", "base_no_proxy")):
        value = os.environ.get(variable) or os.environ.get(variable.upper())
        if value:
            data[key] = value
    return data


def inventory_hosts(paths: LabPaths, extra_data: dict[str, Any] | None = None,
                    host_data: list[dict[str, Any]] | None = None) -> list[tuple[str, dict]]:
    """Every lab node with the shared data, and its own (host_data: one dict per node, in order)."""
    state = load_state(paths)
    if not state.get("nodes"):
        raise LabError("the lab has no nodes: run `glmstack lab up` first")
    connection = {
        "ssh_user": "root",
        "ssh_key": str(paths.ssh_key),
        # Every lab boot makes new host keys on a reused address; the lab network is private.
        "ssh_known_hosts_file": "/dev/null",
        "ssh_strict_host_key_checking": "no",
    }
    shared = {**connection, **host_trust_and_proxy(), "llamacpp_ccache_dir": nodes.NODE_CCACHE_DIR,
              **(extra_data or {})}
    own = list(host_data or []) + [{}] * len(state["nodes"])
    return [(record["address"], {**shared, **own[index]}) for index, record in enumerate(state["nodes"])]


def write_inventory(paths: LabPaths | None = None, extra_data: dict[str, Any] | None = None,
                    output: Path | None = None, validate: bool = True,
                    host_data: list[dict[str, Any]] | None = None) -> Path:
    """Write a pyinfra inventory of the lab nodes; with validate, it checks host data on load."""
    paths = paths or LabPaths.from_env()
    hosts = inventory_hosts(paths, extra_data, host_data)
    output = output or paths.inventory
    helper = "group" if validate else "hosts_only"
    output.write_text(
        "# Written by `glmstack lab inventory`: the nodes of the local lab. Regenerate, do not edit.\n"
        f"from glmstack.inventory import {helper}\n\n"
        f"lab = {helper}({pprint.pformat(hosts, width=110, sort_dicts=False)})\n"
    )
    return output
