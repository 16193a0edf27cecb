"""The lab network: one bridge, one private subnet, NAT to the host's own uplink.

Everything made here is named, recorded in the lab state, and removed by `lab down`.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from glmstack.lab.host import run

BRIDGE = "glmlab0"
SUBNET = ipaddress.ip_network("10.213.0.0/24")
GATEWAY = "10.213.0.1"
FIRST_NODE_HOST = 11
NFT_TABLE = "glmstack_lab"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")

NFT_RULES = f"""
table inet {NFT_TABLE} {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr {SUBNET} ip daddr != {SUBNET} masquerade
    }}
}}
"""


# A lab with no route out (nat=False): what the nodes send beyond the lab subnet is refused at once
# (nothing is masqueraded, and nothing is forwarded either, whatever the host's ip_forward says).
NO_ROUTE_OUT_RULES = f"""
table inet {NFT_TABLE} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        ip saddr {SUBNET} ip daddr != {SUBNET} reject with icmpx type admin-prohibited
    }}
}}
"""


def node_address(index: int) -> str:
    return str(SUBNET.network_address + FIRST_NODE_HOST + index)


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def nft_table_exists() -> bool:
    return run(["nft", "list", "table", "inet", NFT_TABLE], check=False, capture=True).returncode == 0


def bridge_up(state: dict) -> None:
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        state["bridge"] = BRIDGE
        run(["ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def nat_up(state: dict) -> None:
    if "ip_forward_before" not in state:
        state["ip_forward_before"] = IP_FORWARD.read_text().strip()
    IP_FORWARD.write_text("1\n")
    if state.pop("route_out", True) is False and nft_table_exists():  # the table of no_route_out
        run(["nft", "delete", "table", "inet", NFT_TABLE])
    if not nft_table_exists():
        subprocess.run(["nft", "-f", "-"], input=NFT_RULES, text=True, check=True)
        state["nft_table"] = NFT_TABLE


def no_route_out(state: dict) -> None:
    """The lab's nodes reach each other and this machine, nothing else (the NAT of nat_up removed)."""
    if nft_table_exists():
        run(["nft", "delete", "table", "inet", NFT_TABLE])
    subprocess.run(["nft", "-f", "-"], input=NO_ROUTE_OUT_RULES, text=True, check=True)
    state["nft_table"] = NFT_TABLE
    state["route_out"] = False


def network_down(state: dict) -> None:
    if state.get("nft_table") and nft_table_exists():
        run(["nft", "delete", "table", "inet", NFT_TABLE])
    if state.get("bridge") and link_exists(BRIDGE):
        run(["ip", "link", "delete", BRIDGE])
    before = state.get("ip_forward_before")
    if before is not None:
        IP_FORWARD.write_text(f"{before}\n")
