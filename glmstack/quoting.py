"""One quoting function per syntax a value is written in on a host.

Every value that reaches a host file or command goes through the function of the syntax it lands
in, where the file is made (the templates' filters, the renderers, the roles). A value the syntax
cannot hold is refused with `Unrepresentable`, never passed on: in no syntax here may a newline or
another control character appear, so no value can end a line and start a directive of its own.

The planner renders every host file once while it resolves the inventory, so a refusal is reported
as `host <name>: field <field>: ...` before any host is contacted (`field` is the host-data setting
the value came from, when the caller knows it).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Iterable

from glmstack.shape import control_character


class Unrepresentable(ValueError):
    """A value that the syntax it would be written in cannot hold."""

    def __init__(self, message: str, field: str | None = None, value: str | None = None):
        self.field = field
        self.message = message
        self.value = value  # the value refused, to find the field it came from when the caller did not say
        super().__init__(f"field {field}: {message}" if field else message)


def shown(value: str, limit: int = 80) -> str:
    """The value for an error line: repr (so control characters show escaped), cut short, without
    the user and password a URL may hold."""
    value = re.sub(r"//[^/@\s]*@", "//***@", value)
    return repr(value if len(value) <= limit else value[:limit] + "...")


def refuse_control_characters(value: str, target: str, field: str | None = None) -> str:
    """Control characters (newline, carriage return, tab, NUL, DEL, ...) and Unicode line and
    paragraph separators end or garble a line in every syntax here: refused, whatever the target."""
    if not isinstance(value, str):
        raise Unrepresentable(f"{target} needs text, not {type(value).__name__}", field, str(value))
    # and what a reviewer cannot see (U+202E, U+200B, U+00A0): the schema's own rule
    if (what := control_character(value)) is not None:
        raise Unrepresentable(f"{shown(value)} holds {what}, which {target} cannot hold; allowed: printable "
                              "characters only", field, str(value))
    return value


def one_line(value: str, field: str | None = None) -> str:
    """Text on a line of its own kind (a comment): no control character may end the line."""
    return refuse_control_characters(str(value), "one line of a file", field)


# ---- systemd unit files ----

# A word systemd passes through unquoted: no whitespace, quotes, backslash or `;` (a lone `;` once
# separated commands). Only a command's first word may start with a prefix (@-:+!): exec_line
# requires an absolute path there.
_SAFE_WORD = re.compile(r"[\w/.,:=+%@-]+")


def _systemd_quoted(word: str) -> str:
    """One word, double-quoted the way systemd's extract_first_word(EXTRACT_UNQUOTE) reads it back."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_word(word: str, field: str | None = None) -> str:
    """Quote one ExecStart word so systemd passes it to the program unchanged.

    systemd expands %specifiers when it loads the unit and $VARIABLES when it starts the command:
    both are doubled. `fullmatch`: `$` in a pattern also matches before a trailing newline."""
    refuse_control_characters(word, "a systemd command line", field)
    word = word.replace("%", "%%").replace("$", "$$")
    if _SAFE_WORD.fullmatch(word):
        return word
    return _systemd_quoted(word)


def exec_line(argv: Iterable[str], field: str | None = None) -> str:
    """A whole command line (ExecStart=, ExecStartPre=), each word quoted; the first is the program."""
    argv = list(argv)
    if not argv or not argv[0].startswith("/"):
        raise Unrepresentable(f"the command must start with an absolute program path, not {argv[:1]!r}", field,
                              argv[0] if argv else None)
    return " ".join(exec_word(word, field) for word in argv)


# Backwards-compatible name: the unit's ExecStart words.
systemd_quote = exec_word


def unit_setting(value: str, field: str | None = None) -> str:
    """A value systemd takes verbatim from the rest of the line (Description=, User=, Group=,
    WorkingDirectory=, EnvironmentFile=): % specifiers are doubled. systemd strips whitespace at
    either end and joins a line ending in a backslash with the next: such values are refused."""
    value = str(value)
    refuse_control_characters(value, "a systemd unit setting", field)
    if value != value.strip():
        raise Unrepresentable(f"{shown(value)} starts or ends with whitespace, which systemd drops", field, str(value))
    if value.endswith("\\"):
        raise Unrepresentable(f"{shown(value)} ends in a backslash, which systemd reads as a line continuation",
                              field, str(value))
    return value.replace("%", "%%")


def unit_list_word(value: str, field: str | None = None) -> str:
    """One word of a space-separated unit setting (ReadWritePaths=, SupplementaryGroups=,
    IPAddressAllow=, DeviceAllow=): % doubled, and double-quoted when it is not a plain word."""
    value = str(value)
    refuse_control_characters(value, "a systemd unit setting", field)
    if not value:
        raise Unrepresentable("an empty word cannot be listed in a systemd setting", field, str(value))
    value = value.replace("%", "%%")
    if _SAFE_WORD.fullmatch(value) and value[0] not in "-+":
        return value
    return _systemd_quoted(value)


def unit_path(value: str, field: str | None = None) -> str:
    """An absolute path for ReadWritePaths=, LoadCredential= and the like, where a "-" prefix or
    a name: part goes before it and quotes are not read everywhere: % doubled, anything but plain
    characters refused."""
    value = str(value)
    refuse_control_characters(value, "a systemd unit setting", field)
    if not (value.startswith("/") and _SAFE_WORD.fullmatch(value)):
        raise Unrepresentable(f"{shown(value)} is not a plain absolute path, which this systemd setting needs",
                              field, value)
    return value.replace("%", "%%")


def unit_list(values: Iterable[str], field: str | None = None) -> str:
    return " ".join(unit_list_word(value, field) for value in values)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name(name: str, field: str | None = None) -> str:
    """An environment variable's name: letters, digits and _ (not first a digit), as systemd and the
    shells accept; anything else would be a second assignment or a comment."""
    refuse_control_characters(name, "an environment variable's name", field)
    if not _ENV_NAME.fullmatch(name):
        raise Unrepresentable(f"{shown(name)} is not an environment variable name; allowed: letters, digits "
                              "and _, not starting with a digit", field, name)
    return name


def unit_environment(name: str, value: str, field: str | None = None) -> str:
    """One Environment= assignment, quoted as one word (systemd unquotes and C-unescapes it, then
    expands % specifiers; it never expands $ there)."""
    env_name(name, field)
    refuse_control_characters(value, "a systemd Environment= value", field)
    word = f"{name}={value}".replace("%", "%%")
    return word if _SAFE_WORD.fullmatch(word) else _systemd_quoted(word)


def env_file_line(name: str, value: str, field: str | None = None) -> str:
    """One line of a systemd EnvironmentFile: NAME="value". Inside double quotes systemd's parser
    takes a backslash before \\ " ` $ as that character, and keeps any other character as is."""
    env_name(name, field)
    refuse_control_characters(value, "an environment file", field)
    return f"{name}={env_quote(value, field)}"


def env_quote(value: str, field: str | None = None) -> str:
    """A value for a systemd EnvironmentFile line, double-quoted."""
    refuse_control_characters(value, "an environment file", field)
    return '"' + re.sub(r'([\\"`$])', r"\\\1", value) + '"'


# ---- POSIX shell ----


def shell_word(value: str, field: str | None = None) -> str:
    """One POSIX shell word (sh, bash): single-quoted unless it is a plain word."""
    refuse_control_characters(str(value), "a shell command line", field)
    return shlex.quote(str(value))


def plain_shell_word(value: str, field: str | None = None, target: str = "a shell file") -> str:
    """A word written unquoted into a shell file (inside its double quotes, say): only characters
    no shell treats specially."""
    refuse_control_characters(str(value), target, field)
    if not re.fullmatch(r"[\w.,=:/+@%-]+", str(value)):
        raise Unrepresentable(f"{shown(str(value))} cannot be written unquoted in {target}; allowed: letters, "
                              "digits and . , = : / + @ % - _", field, str(value))
    return str(value)


def sed_substitution(pattern: str, replacement: str, field: str | None = None, delimiter: str = "|") -> str:
    """A sed `s` command replacing the literal text `pattern` by the literal text `replacement`
    everywhere (regular-expression characters, `&` and the delimiter escaped); one shell word."""
    for value in (pattern, replacement):
        refuse_control_characters(value, "a sed expression", field)
    literal = re.sub(r"([\\.*\[\]^$" + re.escape(delimiter) + r"])", r"\\\1", pattern)
    substitute = re.sub(r"([\\&" + re.escape(delimiter) + r"])", r"\\\1", replacement)
    return shell_word(f"s{delimiter}{literal}{delimiter}{substitute}{delimiter}g", field)


# ---- package managers ----


def apt_value(value: str, field: str | None = None) -> str:
    """A value in apt's configuration syntax ("..."): apt has no escape for a double quote inside a
    quoted value (it ends it, and the rest is read as more configuration), so `"` is refused."""
    refuse_control_characters(value, "apt's configuration", field)
    if '"' in value:
        raise Unrepresentable(f"{shown(value)} holds a double quote, which apt's configuration cannot hold "
                              "(it has no escape for one); allowed: a URL without '\"'", field, str(value))
    return f'"{value}"'


def ini_value(value: str, field: str | None = None, target: str = "dnf's configuration") -> str:
    """A value of a `key=value` line in dnf.conf or a yum .repo file: one line, no whitespace at either
    end (dropped), and no `$` (dnf substitutes $variables in values)."""
    refuse_control_characters(value, target, field)
    if value != value.strip():
        raise Unrepresentable(f"{shown(value)} starts or ends with whitespace, which {target} drops", field,
                              str(value))
    if "$" in value:
        raise Unrepresentable(f"{shown(value)} holds '$', which {target} substitutes as a variable; "
                              "allowed: a value without '$'", field, str(value))
    # The line is written by pyinfra's files.line, a sed substitution that reads `\n` in it as a newline.
    if "\\" in value:
        raise Unrepresentable(f"{shown(value)} holds a backslash, which the line's sed substitution reads as an "
                              "escape (\\n: a new line); allowed: a value without '\\'", field, str(value))
    return value


def apt_source_word(value: str, field: str | None = None) -> str:
    """One word of a one-line apt source (deb [options] URI suite): no whitespace, no brackets."""
    refuse_control_characters(value, "an apt source line", field)
    if not value or re.search(r"[\s\[\]#]", value):
        raise Unrepresentable(f"{shown(value)} cannot be one word of an apt source line; allowed: no "
                              "whitespace, '[', ']' or '#'", field, str(value))
    return value


# ---- nftables ----


def nft_address(value: str, field: str | None = None) -> str:
    """An address (or network) in an nftables set: only an IP address or network is written."""
    refuse_control_characters(str(value), "an nftables rule", field)
    try:
        return str(ipaddress.ip_network(str(value), strict=False) if "/" in str(value)
                   else ipaddress.ip_address(str(value)))
    except ValueError:
        raise Unrepresentable(f"{shown(str(value))} is not an IP address or network, the only addresses the "
                              "nftables rules take", field, str(value)) from None


def nft_port(value: str | int, field: str | None = None) -> str:
    """A port or port range (low-high) in an nftables set: numbers from 1 to 65535."""
    text = str(value)
    parts = text.split("-", 1)
    if (isinstance(value, bool) or not all(part.isascii() and part.isdigit() and 1 <= int(part) <= 65535
                                           for part in parts) or int(parts[0]) > int(parts[-1])):
        raise Unrepresentable(f"{shown(text)} is not a port (1-65535) or a range of them (low-high)", field,
                              str(value))
    return "-".join(str(int(part)) for part in parts)


_NFT_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def nft_identifier(value: str, field: str | None = None) -> str:
    """A table or chain name in nftables: a letter, then letters, digits and _."""
    if not _NFT_IDENTIFIER.fullmatch(value):
        raise Unrepresentable(f"{shown(value)} is not an nftables name (a letter, then letters, digits, _)", field,
                              str(value))
    return value


# ---- HAProxy ----

# A name HAProxy takes for a proxy, server or ACL: letters, digits and - _ . : (its own rule).
_HAPROXY_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# A host name HAProxy resolves at start (a server's address): DNS labels, nothing else.
_HAPROXY_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                           r"[A-Za-z0-9])?)*")


def haproxy_word(value: str, field: str | None = None) -> str:
    """One word of haproxy.cfg, single-quoted: inside single quotes HAProxy takes every character as
    it is (no $VARIABLE, no backslash escape, no # comment), so only a single quote cannot be held."""
    value = str(value)
    refuse_control_characters(value, "haproxy.cfg", field)
    if "'" in value:
        raise Unrepresentable(f"{shown(value)} holds a single quote, which a quoted haproxy.cfg word cannot hold; "
                              "allowed: printable characters other than '", field, value)
    return f"'{value}'"


def haproxy_name(value: str, field: str | None = None) -> str:
    """A proxy's, server's or ACL's name in haproxy.cfg: letters, digits and - _ . : only."""
    value = str(value)
    refuse_control_characters(value, "haproxy.cfg", field)
    if not _HAPROXY_NAME.fullmatch(value):
        raise Unrepresentable(f"{shown(value)} is not a name haproxy.cfg takes; allowed: 1 to 64 letters, digits "
                              "and - _ . :", field, value)
    return value


def haproxy_address(address: str, port: int | str, field: str | None = None) -> str:
    """An address and port for `bind` or `server`: an IPv4 address, an IPv6 address (HAProxy's
    ipv6@ prefix, so its colons are not read as the port's), or a host name it resolves at start."""
    address = str(address)
    refuse_control_characters(address, "haproxy.cfg", field)
    port = nft_port(port, field)
    if "-" in port:
        raise Unrepresentable(f"{shown(port)} is a range; an HAProxy address takes one port", field, port)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if not _HAPROXY_HOST.fullmatch(address) or len(address) > 253:
            raise Unrepresentable(f"{shown(address)} is not an IP address or a host name; allowed: an IP address, "
                                  "or DNS labels of letters, digits and -", field, address) from None
        return f"{address}:{port}"
    return f"ipv6@{ip}:{port}" if ip.version == 6 else f"{ip}:{port}"


def haproxy_path(value: str, field: str | None = None) -> str:
    """An absolute path in haproxy.cfg (a certificate, an ACL file), single-quoted."""
    value = str(value)
    refuse_control_characters(value, "haproxy.cfg", field)
    if not value.startswith("/"):
        raise Unrepresentable(f"{shown(value)} is not an absolute path, which haproxy.cfg needs here", field, value)
    return haproxy_word(value, field)


# ---- JSON ----


def json_text(value: object) -> str:
    """JSON (compact, ASCII only): every character of every string escaped as JSON requires."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)
