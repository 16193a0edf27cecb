"""The shape of single values in host data: paths on the host, accounts, interface names, URL
schemes, addresses. Checked when the plan is made, before any host is touched; the rules are data
(catalog host.yaml). Each check returns what is wrong and what is allowed, or None."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import Any
from urllib.parse import urlparse

from glmstack.catalog import Catalog, HostPaths, HostRules
from glmstack.shape import ip_address_of

# Marks a setting that names a path on the host (json_schema_extra): the path checks and the
# per-field traversal tests find every such setting by it.
HOST_PATH = {"host_path": True}
# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 63 bytes at most.
HOST_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*$")

# What a URL may hold (RFC 3986: unreserved, reserved and percent-encoded characters).
URL_CHARACTERS = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$")
# One entry of a no_proxy list: a host name or domain suffix (.lab.example), an IP address or
# network (10.0.0.0/8), with an optional port, or * for every host.
NO_PROXY_ENTRY = re.compile(r"^(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?|[0-9A-Fa-f:.]+(/\d{1,3})?|"
                            r"\[[0-9A-Fa-f:.]+\](:\d{1,5})?)$")


def host_path_fields(model: Any) -> list[str]:
    """The settings of a pydantic model that name a path on the host."""
    return [name for name, info in model.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("host_path")]


def _inside(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


def path_problem(field: str, path: str, rules: HostPaths) -> str | None:
    """A path glmstack may create, chown and chmod: absolute, normalised, a directory of its own."""
    allowed = "an absolute, normalised path of a directory of its own, such as /opt/glmstack or /srv/glmstack"
    if not path.startswith("/"):
        return f"{path!r} is not absolute; allowed: {allowed}"
    parts = path.split("/")[1:]
    if "//" in path or path.endswith("/") or any(part in (".", "..") for part in parts):
        return (f"{path!r} is not normalised (no '//', '.' or '..' parts and no trailing slash); allowed: "
                f"{allowed}")
    if path in rules.system_directories:
        return f"{path} is a system directory itself, which glmstack would chown and chmod; allowed: {allowed}"
    for parent in rules.home_parents:
        if posix_parent(path) == parent:
            return f"{path} is a user's home itself; allowed: a directory inside it, or {allowed}"
    reopened = [*rules.allowed_trees.get("all", []), *rules.allowed_trees.get(field, [])]
    matches = [(len(root), root, False) for root in rules.denied_trees if _inside(path, root)]
    matches += [(len(root), root, True) for root in reopened if _inside(path, root)]
    if matches:
        _, root, ok = max(matches)
        if not ok:
            return f"{path} lies inside {root}, whose files glmstack must not chown or chmod; allowed: {allowed}"
    return None


def posix_parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def account_problem(kind: str, name: str, rules: HostRules) -> str | None:
    """The service user or group: an account of its own, never the system's."""
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in rules.system_accounts):
        return (f"{name!r} is a system {kind}; the engine runs as an unprivileged {kind} of its own (glmstack "
                f"creates it); allowed: another name, such as glmstack")
    return None


def interface_problem(name: str, rules: HostRules) -> str | None:
    """A network interface name as the kernel takes it (dev_valid_name)."""
    size = len(name.encode())
    if not 1 <= size <= rules.interface_name_max_bytes or name in (".", "..") or any(
            c in "/:" or c.isspace() for c in name):
        return (f"{name!r} is not an interface name; allowed: 1 to {rules.interface_name_max_bytes} bytes, not "
                "'.' or '..', without '/', ':' or whitespace (the kernel's rules), such as eth1 or enp65s0f0")
    return None


def url_problem(url: str, kind: str, rules: HostRules) -> str | None:
    """A URL with a scheme the tool reading it can use, a host, and only the characters RFC 3986 allows
    (a proxy excepted: each syntax it is written in quotes it)."""
    schemes = rules.url_schemes[kind]
    allowed = f"a URL of scheme {', '.join(f'{scheme}://' for scheme in schemes)} with a host"
    # Proxies are written into apt's and dnf's configuration and the shell, each quoting them its own way
    # (glmstack.quoting); every other URL reaches a command line or a package source as it is.
    if kind != "proxy" and not URL_CHARACTERS.match(url):
        return (f"a URL holds only the characters RFC 3986 allows (no whitespace, quotes, <>, \\, {{}}, |); "
                f"allowed: {allowed}")
    # A proxy may hold what only apt's or dnf's own quoting refuses (a '"', whitespace at its ends),
    # never what makes no URL at all.
    if kind == "proxy" and any(c in "\\`" or not c.isascii() or c.isspace() for c in url.strip()):
        return (f"a proxy URL holds no whitespace, backslash, backtick or non-ASCII character (RFC 3986); "
                f"allowed: {allowed}")
    parsed = urlparse(url)
    if parsed.scheme.lower() not in schemes:
        what = f"scheme {parsed.scheme}:" if parsed.scheme else "no scheme"
        return f"{url!r} has {what}; allowed: {allowed}"
    if not parsed.hostname:
        return f"{url!r} names no host; allowed: {allowed}"
    return None


def cmake_flag_problem(flag: str, rules: HostRules) -> str | None:
    """One of llamacpp_cmake_flags: -D<NAME>=<value> of an option catalog host.yaml allows."""
    name, equals, _ = flag.removeprefix("-D").partition("=")
    if not (flag.startswith("-D") and equals and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(:[A-Z]+)?", name)):
        return (f"({flag[:64]!r}) is not -D<NAME>=<value>; allowed: definitions such as -DGGML_CUDA_F16=ON "
                "(no other CMake options)")
    if not any(fnmatch.fnmatchcase(name.split(":")[0], pattern) for pattern in rules.cmake_definitions):
        return (f"({flag[:64]!r}) sets {name}, which could make the build run a program of its choosing; "
                f"allowed: {', '.join(rules.cmake_definitions)}")
    return None


def no_proxy_problem(value: str) -> str | None:
    """A comma-separated list of hosts that bypass the proxy, as curl, pip and the engines read it."""
    bad = [entry for entry in value.split(",") if not NO_PROXY_ENTRY.match(entry.strip())]
    if bad:
        return (f"{bad[0]!r} is not a host, domain suffix, IP address or network; allowed: comma-separated entries "
                "such as localhost,127.0.0.1,.lab.example,10.0.0.0/8")
    return None


def bind_host_problem(value: str) -> str | None:
    """What the engine listens on: an IP address or localhost."""
    if value == "localhost":
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return (f"{value!r} is not an IP address; allowed: an IPv4 or IPv6 address (0.0.0.0 or :: for every "
                "interface, 127.0.0.1 for loopback only) or localhost")
    if address.is_multicast:
        return (f"{value} is a multicast address; allowed: an IPv4 or IPv6 address of this host, 0.0.0.0, :: or "
                "localhost")
    return None


def node_address_problem(value: str) -> str | None:
    """An address other nodes reach a host on: an IP address or an RFC 1123 name, one host's own."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        if HOST_NAME.match(value) and not value.replace(".", "").isdigit():
            return None
        return f"{value!r} is neither an IP address nor a host name; allowed: an IP address or an RFC 1123 name"
    if address.is_unspecified or address.is_multicast:
        return (f"{value} is {'unspecified' if address.is_unspecified else 'multicast'}, which no node can be "
                "reached on; allowed: this host's own IP address or name")
    return None


def is_ipv6(value: str | None) -> bool:
    return isinstance(ip_address_of(value or ""), ipaddress.IPv6Address)


def url_host(address: str) -> str:
    """An address as the host part of host:port or a URL: an IPv6 address in brackets (RFC 3986)."""
    return f"[{address}]" if is_ipv6(address) else address


def host_port(address: str, port: int | str) -> str:
    return f"{url_host(address)}:{port}"


# URL settings and the schemes their readers take (catalog host.yaml url_schemes); model_source and
# ascend_packages also take other forms and are checked where they are read (_plan_model, a pattern).
URL_SETTINGS = {"nvidia_repo_url": "http", "amd_repo_url": "http", "ascend_pip_extra_index_urls": "http",
                "model_hf_endpoint": "http", "model_modelscope_endpoint": "http", "base_http_proxy": "proxy",
                "base_https_proxy": "proxy"}


def value_problems(config: Any, catalog: Catalog) -> list[tuple[str, str]]:
    """The shape of each value on its own (catalog host.yaml): paths, accounts, interface names, URL
    schemes, addresses; what they mean together is checked where the plan is made."""
    rules, problems = catalog.host, []
    for name in host_path_fields(type(config)):
        value = getattr(config, name)
        if value is None or (name == "model_source" and not value.startswith("/")):
            continue
        if (problem := path_problem(name, value, rules.paths)) is not None:
            problems.append((name, problem))
    for name, kind in (("base_service_user", "user"), ("base_service_group", "group")):
        if (problem := account_problem(kind, getattr(config, name), rules)) is not None:
            problems.append((name, problem))
    if config.network_interface is not None and (problem := interface_problem(config.network_interface, rules)):
        problems.append(("network_interface", problem))
    for name, kind in URL_SETTINGS.items():
        values = getattr(config, name)
        for url in values if isinstance(values, list) else [values] if values is not None else []:
            if (problem := url_problem(url, kind, rules)) is not None:
                problems.append((name, problem))
                break
    source = config.llamacpp_source
    if source is not None and not source.startswith("/"):
        git = source.endswith(".git") or source.startswith("git+")
        if (problem := url_problem(source.removeprefix("git+") if git else source, "git" if git else "http",
                                   rules)) is not None:
            problems.append(("llamacpp_source", problem))
    if config.base_no_proxy is not None and (problem := no_proxy_problem(config.base_no_proxy)) is not None:
        problems.append(("base_no_proxy", problem))
    if config.engine_requirement is not None:  # the pattern fixed its scheme and pin; this, the rest of it
        url = config.engine_requirement.split(" @ ", 1)[1].removeprefix("git+")
        if (problem := url_problem(url, "http", rules)) is not None:
            problems.append(("engine_requirement", problem))
    for at, package in enumerate(config.base_packages):
        if not rules.package_name.fullmatch(package):
            problems.append(("base_packages", f"item {at} ({package[:64]!r}) is not a package name; allowed: a name "
                                              "of letters, digits and _ + . ~ -, optionally =version, such as htop or "
                                              "htop=3.2.2-2 (never an option, a file or a URL)"))
            break
    for at, flag in enumerate(config.llamacpp_cmake_flags):
        if (problem := cmake_flag_problem(flag, rules)) is not None:
            problems.append(("llamacpp_cmake_flags", f"item {at} {problem}"))
            break
    for name in ("model_include", "model_exclude"):
        dashed = [pattern for pattern in getattr(config, name) or [] if pattern.startswith("-")]
        if dashed:
            problems.append((name, f"{dashed[0][:64]!r} starts with '-', which the download tool reads as an "
                                   "option; allowed: file patterns such as *.safetensors or config.json"))
    for name in ("port", "model_share_port", "model_packages_port"):
        value = getattr(config, name)
        if value is not None and value < rules.lowest_port:
            problems.append((name, f"{value} is below {rules.lowest_port}, which the unprivileged engine cannot "
                                   f"listen on (it has no capabilities); allowed: {rules.lowest_port} to 65535"))
    if (problem := bind_host_problem(config.service_bind_host)) is not None:
        problems.append(("service_bind_host", problem))
    if config.address is not None and (problem := node_address_problem(config.address)) is not None:
        problems.append(("address", problem))
    engine = catalog.engines.get(config.engine)  # known: checked before
    for name, limit in (engine.tunable_limits.items() if engine else ()):
        value = getattr(config, name, None)
        if value is not None and value > limit:
            problems.append((name, f"{value} is more than {config.engine} takes; allowed: at most {limit}"))
    return problems
