"""Checks on values host data gives, shared by the role planners: URLs, addresses, netmasks,
repository mirrors, and settings given to the wrong vendor's role."""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

from glmstack.secrets import shape_of, url_secret
from glmstack.shape import ip_address_of


def relative_inside(path: str) -> bool:
    return not path.startswith("/") and ".." not in path.split("/")


def credentials_in_url(url: str) -> bool:
    """Credentials anywhere in a URL: a user or password (user:password@; on ssh:// a password),
    a signed or token query (X-Amz-Signature=, sig=, token=, ...), or a secret's shape."""
    return url_secret(url) is not None or shape_of(url) is not None


def is_ip_address(address: str, version: int | None = None) -> bool:
    """An IP address (of `version` 4 or 6, when given)."""
    ip = ip_address_of(address)
    return ip is not None and version in (None, ip.version)


def loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def mirror_url(field: str, url: str, problems: list) -> str | None:
    """A repository base URL (upstream or an operator's mirror), checked before it reaches a host."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")) or not urlparse(url).netloc:
        problems.append((field, f"{url!r} is not an http(s) URL with a host"))
        return None
    if credentials_in_url(url):
        problems.append((field, "credentials in a URL end up in package sources and logs; give the "
                                "mirror without them"))
        return None
    return url


def is_netmask(netmask: str) -> bool:
    """A dotted netmask (not a prefix length, not a host mask) of /1 to /30."""
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", netmask):
        return False
    try:
        network = ipaddress.IPv4Network(f"0.0.0.0/{netmask}")
    except ValueError:
        return False
    return str(network.netmask) == netmask and 1 <= network.prefixlen <= 30


def normal_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address
