"""Small helpers for running commands on the machine that hosts the lab."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence


class LabError(RuntimeError):
    """The lab could not do what was asked; the message says why."""


def run(cmd: Sequence[str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(cmd), check=check, text=True, capture_output=capture)
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or "").strip()
        raise LabError(f"command failed ({error.returncode}): {' '.join(cmd)}\n{detail}") from error


def output(cmd: Sequence[str]) -> str:
    return run(cmd, capture=True).stdout


# Debian package that provides each tool the lab drives.
REQUIRED_TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "systemd-nspawn": "systemd-container",
    "nft": "nftables",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
}


def ensure_tools() -> None:
    """Install the Debian packages the lab needs when they are missing (the lab runs as root)."""
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise LabError(f"the lab needs {', '.join(missing)} and this machine has no apt-get")
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing])
