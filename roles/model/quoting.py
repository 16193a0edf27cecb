"""Quoting for the values the model role writes into systemd units.

Minimal and local to this role until the shared glmstack.quoting (one function per target syntax)
lands; each function here has the same contract and can be swapped for it: a value comes out as
exactly one piece of one line, or is refused.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_WORD = re.compile(r"[\w@+=:,./-]+", re.ASCII)


def unit_text(value: str) -> str:
    """Free text for a unit setting such as Description=: control characters and backslashes shown
    as \\xNN (never a second line, never a line continuation), % doubled (no specifier expands)."""
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", value.replace("\\", "\\x5c"))
    return text.replace("%", "%%")


def unit_word(value: str) -> str:
    """One word of an Exec*= command line (or one path of a space-separated list), passed through
    unchanged: % and $ doubled, anything but plain characters in double quotes. A value with a
    control character cannot be one word on one line: refused."""
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} holds a control character; it cannot be written into a unit")
    word = value.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_path(value: str) -> str:
    """An absolute path for ReadWritePaths=, LoadCredential= and the like (settings that expand
    %specifiers but not $VARIABLES): % doubled; anything but plain characters refused, since not
    every such setting takes quotes."""
    if not (value.startswith("/") and _PLAIN_WORD.fullmatch(value)):
        raise ValueError(f"{value!r} is not a plain absolute path; it cannot be written into a unit")
    return value.replace("%", "%%")
