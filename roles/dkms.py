"""What every vendor's DKMS-built kernel driver needs: Secure Boot checked before any change,
commands run once per content of the files they depend on, and reboots only where allowed."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host
from pyinfra.api import operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FileContents
from pyinfra.operations import server

from glmstack.facts import DKMS_MOK_CERT, SecureBoot


def check_secure_boot(driver: str) -> None:
    """Refuse, before any change, a Secure Boot host that would not load the modules DKMS builds."""
    secure_boot = host.get_fact(SecureBoot)
    if secure_boot["enabled"] and not secure_boot["dkms_key_enrolled"]:
        raise DeployError(
            f"host {host.name}: UEFI Secure Boot is on, and the {driver} modules DKMS builds would not load "
            "(the engine would later find no device). Ways out: (1) turn Secure Boot off in the firmware; or "
            f"(2) enroll DKMS's signing key once: `mokutil --import {DKMS_MOK_CERT}` (creates it if missing: "
            "`dkms generate_mok`), reboot and confirm the enrollment at the console, then rerun; or (3) on "
            "Ubuntu, install the distribution's signed modules for the driver yourself and rerun. Nothing was "
            "changed on this host.")


@operation()
def once_per_content(command: str, content: str, stamp: str):
    """Run `command` once for each content of the files it depends on (a stamp file records which)."""
    digest = hashlib.sha256(content.encode()).hexdigest()
    if host.get_fact(FileContents, path=stamp) == [digest]:
        host.noop(f"already done for this content ({stamp})")
        return
    yield f"{command} && printf '%s\\n' {digest} > {shlex.quote(stamp)}"


def reboot_or_stop(reason: str, allow: bool, timeout: int, setting: str):
    """Commands that reboot and wait (when the host data allows it), or stop this host saying why."""
    if allow:
        yield from server.reboot._inner(delay=15, interval=5, reboot_timeout=timeout)
        return
    message = (f"host {host.name}: {reason}; a reboot is needed. Reboot the host and rerun, or set "
               f"{setting}: true to let the deploy do it.")
    yield f"echo {shlex.quote(message)} >&2; exit 1"
