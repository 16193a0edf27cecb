"""Rendered units read back by systemd's own parser: `systemd --test` loads the units exactly as
PID 1 would (specifiers, quoting, line continuations, escapes) and dumps what it understood.

`systemd --test` refuses to run as root, and needs no running manager: it runs here as nobody, on
a directory holding only the units given and stubs of the targets they depend on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SYSTEMD = Path("/lib/systemd/systemd")
STUBS = ("sysinit.target", "basic.target", "shutdown.target", "network-online.target", "multi-user.target",
         "system.slice")


def available() -> bool:
    return SYSTEMD.is_file() and shutil.which("setpriv") is not None


def _unquote_command_line(line: str) -> list[str]:
    """Split systemd's `Command Line:` dump (quote_command_line: each word bare, or in double quotes
    with \\ before " \\ ` $), then apply what systemd does when it runs the command: `$$` is `$`;
    any other `$` would be a variable expansion, which no rendered word may contain."""
    words, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        word = ""
        if line[i] == '"':
            i += 1
            while line[i] != '"':
                if line[i] == "\\":
                    i += 1
                word += line[i]
                i += 1
            i += 1
        else:
            while i < len(line) and line[i] != " ":
                word += line[i]
                i += 1
        words.append(word)
    result = []
    for word in words:
        assert re.fullmatch(r"([^$]|\$\$)*", word), f"systemd would expand a variable in {word!r}"
        result.append(word.replace("$$", "$"))
    return result


class ParsedUnit:
    """What systemd understood of one unit: settings (name -> values, in order) and commands
    (ExecStart, ExecStartPre, ... -> [(argv, flags)])."""

    def __init__(self, lines: list[str]):
        self.settings: dict[str, list[str]] = {}
        self.commands: dict[str, list[tuple[list[str], str]]] = {}
        current = None
        for line in lines:
            command = re.fullmatch(r"\t\t-> (Exec\w+):", line)
            if command:
                current = command.group(1)
                continue
            if line.startswith("\t\t\t") and current:
                key, _, value = line.strip("\t").partition(": ")
                if key == "Command Line":
                    self.commands.setdefault(current, []).append((_unquote_command_line(value), ""))
                elif key == "Command Flags" and self.commands.get(current):
                    argv, _ = self.commands[current][-1]
                    self.commands[current][-1] = (argv, value)
                continue
            current = None
            if line.startswith("\t\t") and ": " in line:
                key, _, value = line.strip("\t").partition(": ")
                self.settings.setdefault(key, []).append(value)

    def argv(self, kind: str = "ExecStart") -> list[list[str]]:
        return [argv for argv, _ in self.commands.get(kind, [])]


def parse_units(units: dict[str, str]) -> dict[str, ParsedUnit]:
    """Load the units (file name -> text) with systemd's parser; what it understood of each.
    Fails on any warning or error systemd prints about them."""
    if not available():
        pytest.skip("systemd is not installed here")
    directory = Path(tempfile.mkdtemp(prefix="glmstack-units-"))
    try:
        for stub in STUBS:
            (directory / stub).write_text("[Unit]\nDescription=stub\n")
        for name, text in units.items():
            (directory / name).write_text(text)
        directory.chmod(0o755)
        for path in directory.iterdir():
            path.chmod(0o644)
        return {name: _dump(directory, name) for name in units if name.endswith(".service")}
    finally:
        shutil.rmtree(directory)


def _dump(directory: Path, name: str) -> ParsedUnit:
    command = [str(SYSTEMD), "--test", "--system", f"--unit={name}", "--log-target=console", "--log-level=notice"]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    environment = {"PATH": "/usr/bin:/bin", "SYSTEMD_UNIT_PATH": str(directory), "HOME": "/nonexistent",
                   "XDG_RUNTIME_DIR": str(directory)}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    # Lines systemd logs about the units themselves (path:line: message) mean it read them otherwise.
    complaints = [line for line in result.stderr.splitlines() if str(directory) in line]
    assert not complaints, complaints
    lines, inside = [], False
    for line in result.stdout.splitlines():
        if line.startswith("\t-> Unit "):
            inside = line == f"\t-> Unit {name}:"
        elif line.startswith("-> ") or line.startswith("\t-> Job"):
            inside = False
        elif inside:
            lines.append(line)
    assert lines, f"systemd did not load {name}: {result.stderr}"
    return ParsedUnit(lines)
