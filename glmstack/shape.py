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
# file can hold as UTF-8): none of these may reach a unit, an environment file or a script.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
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
    """The first character no file may hold, as 'U+000A at 3', or None."""
    match = _CONTROL.search(text)
    if match is None:
        return None
    return f"U+{ord(match.group()):04X} at {match.start()}"


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
        return f"the host name {ascii(name)[:80]} has a control character ({where}); allowed: {HOST_NAMES_ALLOWED}"
    if name.startswith("@"):
        if CONNECTOR_NAME.fullmatch(name):
            return None
    elif RFC1123_NAME.fullmatch(name):
        return None
    else:
        try:
            ipaddress.ip_address(name)
            return None
        except ValueError:
            pass
    return f"{ascii(name)[:80]} is not a host name; allowed: {HOST_NAMES_ALLOWED}"


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
        seen.setdefault(name.lower(), []).append(name)
    for names in seen.values():
        if len(names) > 1:
            spelled = "" if len(set(names)) == 1 else f" (as {', '.join(names)}; host names are case-insensitive)"
            errors.append(f"host {names[0]}: field (host): listed {len(names)} times{spelled}; each host may "
                          "appear once (in a deployment, its place in the list is its rank)")
    return pairs, errors


def _value_problem(value: Any, depth: int = 0) -> str | None:
    """What in a value (at any depth) no host may be given, said without echoing it."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return f"has {len(value)} characters; allowed: at most {MAX_STRING}"
        where = control_character(value)
        return f"has a control character ({where}); allowed: printable characters only" if where else None
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


def data_problems(data: dict[str, Any], known: set[str]) -> list[tuple[str, str]]:
    """Keys that are neither a setting nor pyinfra's (with a did-you-mean), and any value holding a
    control character or too long a string or list."""
    if len(data) > MAX_ITEMS:
        return [("(data)", f"has {len(data)} settings; allowed: at most {MAX_ITEMS}")]
    problems = []
    allowed = known | PYINFRA_HOST_KEYS
    for position, (key, value) in enumerate(data.items(), start=1):
        if not isinstance(key, str) or not SAFE_LABEL.fullmatch(key) or control_character(key):
            problem = _value_problem(key) if isinstance(key, str) else None
            problems.append(("(data)", f"setting {position}'s name is not a name"
                                            f"{' (it ' + problem + ')' if problem else ''}; allowed: a setting "
                                            "name (see the README's settings tables)"))
            continue
        if key not in allowed:
            problems.append((key, f"unknown setting{_did_you_mean(key, allowed)}"))
            continue
        problem = None if key in PYINFRA_FREE_TEXT_KEYS else _value_problem(value)
        if problem:
            problems.append((key, f"the value {problem}" if problem.startswith(("has ", "is ")) else problem))
    return problems


def _did_you_mean(key: str, known: set[str]) -> str:
    """The closest setting, with or without its role's prefix (gpu_memory_utilisation,
    servise_user -> base_service_user)."""
    names = {name: name for name in known}
    for name in known:
        head, _, tail = name.partition("_")
        if tail and head in ("amd", "ascend", "base", "llamacpp", "model", "nvidia", "service"):
            names.setdefault(tail, name)
    close = difflib.get_close_matches(key, sorted(names), n=1)
    if not close:
        stripped = key.partition("_")[2]
        close = difflib.get_close_matches(stripped, sorted(names), n=1) if stripped else []
    return f"; did you mean {names[close[0]]}?" if close else ""
