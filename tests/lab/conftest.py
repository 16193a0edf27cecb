"""The lab tier: real Debian nodes booted with systemd-nspawn on this machine (root required)."""

from __future__ import annotations

import os
import shutil

import pytest


def lab_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (it boots containers and changes the network)"
    if not shutil.which("apt-get") and not shutil.which("systemd-nspawn"):
        return "the lab needs systemd-nspawn or apt-get to install it"
    return None


def pytest_collection_modifyitems(config, items):
    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        # In CI a skipped lab tier would hide that nothing was deployed: fail instead.
        raise pytest.UsageError(f"lab tests cannot run in CI: {reason}")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
