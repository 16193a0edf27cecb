"""The shape of host data, checked before anything reads it: host names, host entries, the keys a
host's data may have, and the strings in it (no control characters, bounded lengths and sizes).

Every problem is a (field, message) pair as HostDataError takes them, or a whole error line for
an entry whose host has no usable name. Nothing here echoes a value: a value may be a secret.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import socket
import unicodedata
from typing import Any

# Host-data keys pyinfra itself reads: its connectors' data (pyinfra.api.connectors
# get_all_connectors(): each connector's data_meta, and what make_names_data sets), and the
# operation arguments a host's data may set (pyinfra.api.arguments.all_global_arguments(), less
# `name`, which would rename every operation). tests/unit/test_host_data_shape.py checks this
# list against the installed pyinfra.
PYINFRA_HOST_KEYS = frozenset({
    # connectors
    "ssh_hostname", "ssh_port", "ssh_user", "ssh_password", "ssh_key", "ssh_key_password",
    "ssh_allow_agent", "ssh_look_for_keys", "ssh_forward_agent", "ssh_config_file", "ssh_known_hosts_file",
    "ssh_strict_host_key_checking", "ssh_paramiko_connect_kwargs", "ssh_connect_retries",
    "ssh_connect_retry_min_delay", "ssh_connect_retry_max_delay", "ssh_file_transfer_protocol",
    "docker_identifier", "docker_platform", "docker_architecture", "docker_image", "docker_container_id",
    "chroot_directory", "fake_delay", "fake_delay_jitter", "fake_responses",
    # operation arguments
    "_sudo", "_sudo_user", "_use_sudo_login", "_sudo_password", "_preserve_sudo_env", "_su_user",
    "_use_su_login", "_preserve_su_env", "_su_shell", "_su_password", "_doas", "_doas_user", "_dzdo",
    "_dzdo_user", "_shell_executable", "_chdir", "_env", "_success_exit_codes", "_timeout", "_get_pty",
    "_stdin", "_retries", "_retry_delay", "_retry_until", "_temp_dir", "_ignore_errors", "_continue_on_error",
    "_if", "_parallel", "_run_once", "_serial",
})
# Of those, the ones glmstack's inventories and users set, by type (pyinfra checks none of them:
# `ssh_port: "2222"` or `True` reached paramiko). Strict: no bool for a number, no "22" for a port.
# A password in host data is a secret in a file anyone who reads the inventory reads: refused.
PYINFRA_KEY_TYPES: dict[str, tuple[str, str]] = {
    "ssh_port": ("port", "a whole number from 1 to 65535"),
    "ssh_user": ("str", "a user name (text)"),
    "ssh_hostname": ("str", "a host name or IP address (text)"),
    "ssh_key": ("str", "a path to a private key file (text)"),
    "ssh_password": ("secret", "no password in host data; use an SSH key (ssh_key) or ssh-agent"),
    "ssh_key_password": ("secret", "no key passphrase in host data; load the key into ssh-agent"),
    "_sudo_password": ("secret", "no sudo password in host data; give the SSH user passwordless sudo"),
    "_su_password": ("secret", "no su password in host data; give the SSH user passwordless sudo"),
    "_sudo": ("bool", "True or False"),
    "_use_sudo_login": ("bool", "True or False"),
    "_preserve_sudo_env": ("bool", "True or False"),
    "_use_su_login": ("bool", "True or False"),
    "_sudo_user": ("str", "a user name (text)"),
    "_su_user": ("str", "a user name (text)"),
}
# Of those, the ones whose values pyinfra takes as free text (a fact's recorded output, a command's
# input): their newlines are data, and never reach a file glmstack writes.
PYINFRA_FREE_TEXT_KEYS = frozenset({"fake_responses", "_stdin"})

# Bounds that refuse absurd values at once: paths are at most PATH_MAX, and nothing a host's data
# holds (flags, files of a checkpoint, environment) comes near these.
MAX_STRING = 4096
MAX_ITEMS = 4096
MAX_DEPTH = 8
# 64 bits: a larger number is a typo (and Python cannot even print one of over 4300 digits).
MAX_INTEGER = 2**63 - 1
MAX_HOST_NAME = 253
# Control characters (C0, DEL, C1), line and paragraph separators, and lone surrogates (which no
# file can hold as UTF-8): none of these may reach a unit, an environment file or a script. Nor may
# what a reviewer cannot see: format characters (U+202E reverses the text shown after it, U+200B
# and U+FEFF are invisible, U+E0041 is a tag), private-use and unassigned code points, and spaces
# other than the ASCII space (U+00A0, U+3000 look like one and split nothing).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNPRINTABLE = {"Cc": "a control character", "Zl": "a control character", "Zp": "a control character",
                "Cs": "a control character", "Cf": "an invisible format character",
                "Co": "a private-use character", "Cn": "an unassigned character",
                "Zs": "a space other than U+0020"}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
RFC1123_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
# pyinfra's connector names, as its own connectors make them: @local, @fake/node1, @ssh/host,
# @docker/image:tag, @chroot/path, @dockerssh/host:image.
CONNECTOR_NAME = re.compile(r"^@[a-z][a-z0-9_]*(?:/[\w.:@+/-]+)?$")
SAFE_LABEL = re.compile(r"^[\w.:@/+-]{1,64}$")
HOST_NAMES_ALLOWED = ("an RFC 1123 host name (dot-separated labels of letters, digits and inner hyphens, "
                      "up to 63 characters each), an IP address, or a pyinfra connector name such as "
                      "@local or @ssh/<host>")


def control_character(text: str) -> str | None:
    """The first character no file may hold (or a reviewer cannot see), as 'a control character
    (U+000A at 3)', or None."""
    if text.isascii():
        match = _CONTROL.search(text)
        return f"a control character (U+{ord(match.group()):04X} at {match.start()})" if match else None
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if category in _UNPRINTABLE and char != " ":
            return f"{_UNPRINTABLE[category]} (U+{ord(char):04X} at {position})"
    return None


def _kind(value: Any) -> str:
    return {dict: "a dict", list: "a list", tuple: "a tuple", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "None"}.get(type(value), type(value).__name__)


def label(name: Any, position: int) -> str:
    """How an error line names a host: its name where that is printable as one word, else its place."""
    return name if isinstance(name, str) and SAFE_LABEL.fullmatch(name) else f"#{position}"


def host_name_problem(name: Any) -> str | None:
    """What is wrong with a host name, or None."""
    if not isinstance(name, str):
        return f"a host name is a string; got {_kind(name)}; allowed: {HOST_NAMES_ALLOWED}"
    if not name:
        return f"the host name is empty; allowed: {HOST_NAMES_ALLOWED}"
    if len(name) > MAX_HOST_NAME:
        return f"the host name has {len(name)} characters; allowed: at most {MAX_HOST_NAME}"
    where = control_character(name)
    if where:
        return f"the host name {ascii(name)[:80]} has {where}; allowed: {HOST_NAMES_ALLOWED}"
    if name.startswith("@"):
        if CONNECTOR_NAME.fullmatch(name):
            return None
    elif ip_address_of(name) is not None:
        return None
    elif (read_as := _inet_aton(name)) is not None:
        # 0x7f000001, 127.1, 10.0.0.01 (octal): a resolver connects to this address, not a name.
        return (f"{ascii(name)[:80]} is read by resolvers as the IP address {read_as}; allowed: "
                f"{HOST_NAMES_ALLOWED} (IPv4 as four decimal numbers without leading zeros)")
    elif RFC1123_NAME.fullmatch(name):
        if not name.rstrip(".").rpartition(".")[2].isdigit():
            return None
        return (f"{ascii(name)[:80]} ends in an all-numeric label, which resolvers may read as an IP address "
                f"(RFC 3696: no top-level domain is all-numeric); allowed: {HOST_NAMES_ALLOWED}")
    return f"{ascii(name)[:80]} is not a host name; allowed: {HOST_NAMES_ALLOWED}"


def ip_address_of(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `name` spells (in any of Python's accepted forms), or None."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _inet_aton(name: str) -> str | None:
    """The IPv4 address the C library reads `name` as (it takes hex, octal and fewer than four
    parts), or None."""
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(name)))
    except (OSError, ValueError, UnicodeError):
        return None


def host_key(name: str) -> str:
    """One spelling per host: lowercase, no trailing dot, an IP address in canonical form."""
    if name.startswith("@"):
        return name.lower()
    address = ip_address_of(name)
    return str(address) if address is not None else name.lower().rstrip(".")


def entry_problems(hosts: Any) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The (name, data) pairs of a host list, and an error line for each entry that is not one,
    for a name that is not a host name, and for a host listed twice (names are case-insensitive)."""
    if not isinstance(hosts, (list, tuple)):
        return [], [f"host #1: field (host): the hosts are {_kind(hosts)}; allowed: a list of host names "
                    "or (name, data dict) tuples"]
    pairs, errors = [], []
    for position, entry in enumerate(hosts, start=1):
        if not (isinstance(entry, tuple) and len(entry) == 2):
            errors.append(f"host {label(entry, position)}: field (host): entry {position} is {_kind(entry)}"
                          f"{' of ' + str(len(entry)) if isinstance(entry, (list, tuple)) else ''}; allowed: "
                          "a (name, data dict) tuple")
            continue
        name, data = entry
        problem = host_name_problem(name)
        if problem:
            errors.append(f"host {label(name, position)}: field (host): {problem}")
        elif not isinstance(data, dict):
            errors.append(f"host {label(name, position)}: field (data): the host's data is {_kind(data)}; "
                          "allowed: a dict of settings, {'name': value, ...}")
        else:
            pairs.append((name, data))
    seen: dict[str, list[str]] = {}
    for name, _ in pairs:
        seen.setdefault(host_key(name), []).append(name)
    for names in seen.values():
        if len(names) > 1:
            why = ("host names are case-insensitive" if len({name.lower() for name in names}) == 1 else
                   "one host: names are case-insensitive, a trailing dot and an IP address's spelling change "
                   "nothing")
            spelled = "" if len(set(names)) == 1 else f" (as {', '.join(names)}; {why})"
            errors.append(f"host {names[0]}: field (host): listed {len(names)} times{spelled}; each host may "
                          "appear once (in a deployment, its place in the list is its rank)")
    return pairs, errors


def _value_problem(value: Any, depth: int = 0) -> str | None:
    """What in a value (at any depth) no host may be given, said without echoing it."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return f"has {len(value)} characters; allowed: at most {MAX_STRING}"
        where = control_character(value)
        return f"has {where}; allowed: printable characters only" if where else None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        return f"is out of range; allowed: a whole number of at most {len(str(MAX_INTEGER))} digits"
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        if len(value) > MAX_ITEMS:
            return f"has {len(value)} items; allowed: at most {MAX_ITEMS}"
        if depth >= MAX_DEPTH:
            return f"is nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            for position, (key, item) in enumerate(value.items(), start=1):
                problem = _value_problem(key, depth + 1)
                if problem:
                    return f"key {position} {problem}"
                problem = _value_problem(item, depth + 1)
                if problem:
                    shown = key if isinstance(key, str) and SAFE_LABEL.fullmatch(key) else f"key {position}"
                    return f"the value of {shown} {problem}"
        else:
            for position, item in enumerate(value):
                problem = _value_problem(item, depth + 1)
                if problem:
                    return f"item {position} {problem}"
    return None


def data_problems(data: dict[str, Any], known: set[str], prefixes: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Keys that are neither a setting nor pyinfra's (with a did-you-mean, which also tries each
    setting without its role's prefix: the registry's ROLE_PREFIXES), and any value holding a control
    character or too long a string or list."""
    if len(data) > MAX_ITEMS:
        return [("(data)", f"has {len(data)} settings; allowed: at most {MAX_ITEMS}")]
    problems = []
    allowed = known | PYINFRA_HOST_KEYS
    for position, (key, value) in enumerate(data.items(), start=1):
        if not isinstance(key, str) or not SAFE_LABEL.fullmatch(key) or control_character(key):
            problem = _value_problem(key) if isinstance(key, str) else None
            problems.append(("(data)", f"setting {position}'s name is not a name"
                                            f"{' (it ' + problem + ')' if problem else ''}; allowed: a setting "
                                            "name (see docs/settings.md)"))
            continue
        if key not in allowed:
            problems.append((key, f"unknown setting{_did_you_mean(key, allowed, prefixes)}"))
            continue
        problem = None if key in PYINFRA_FREE_TEXT_KEYS else _value_problem(value)
        if problem:
            problems.append((key, f"the value {problem}" if problem.startswith(("has ", "is ")) else problem))
        elif key in PYINFRA_KEY_TYPES:
            problem = _pyinfra_type_problem(key, value)
            if problem:
                problems.append((key, problem))
    port, ssh_port = data.get("port"), data.get("ssh_port")
    if type(port) is int and port == ssh_port and type(ssh_port) is int:
        problems.append(("port", f"the API port {port} is the host's ssh_port; allowed: a port other than "
                                 f"ssh_port {ssh_port}"))
    return problems


def _pyinfra_type_problem(key: str, value: Any) -> str | None:
    """What is wrong with the value of a pyinfra key of PYINFRA_KEY_TYPES, never echoing text."""
    kind, allowed = PYINFRA_KEY_TYPES[key]
    if kind == "secret":
        return f"a password in host data is a secret anyone reading the inventory reads; allowed: {allowed}"
    if kind == "bool" and type(value) is bool:
        return None
    if kind == "str" and type(value) is str and value.strip():
        return None
    if kind == "port" and type(value) is int and 1 <= value <= 65535:
        return None
    shown = f" {value}" if type(value) in (int, bool) else ""
    what = "an empty string" if value == "" else _kind(value)
    return f"the value is {what}{shown}; allowed: {allowed}"


def _did_you_mean(key: str, known: set[str], prefixes: tuple[str, ...]) -> str:
    """The closest setting, with or without its role's prefix (gpu_memory_utilisation,
    servise_user -> base_service_user)."""
    names = {name: name for name in known}
    for name in known:
        prefix = next((prefix for prefix in prefixes if name.startswith(prefix)), None)
        tail = name.removeprefix(prefix) if prefix else ""
        if tail:
            names.setdefault(tail, name)
    close = difflib.get_close_matches(key, sorted(names), n=1)
    if not close:
        stripped = key.partition("_")[2]
        close = difflib.get_close_matches(stripped, sorted(names), n=1) if stripped else []
    return f"; did you mean {names[close[0]]}?" if close else ""
