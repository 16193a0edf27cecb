"""Facts the roles read: each answers one question about a host."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class ContainerVirtualization(FactBase):
    """
    The container technology this host runs in, or ``None`` on bare metal and in VMs.

    .. code:: python

        "systemd-nspawn"
    """

    requires_command = "systemd-detect-virt"

    def command(self) -> str:
        return "systemd-detect-virt --container || true"

    def process(self, output: list[str]) -> str | None:
        value = output[0].strip() if output else "none"
        return None if value in ("", "none") else value


class HttpStatus(FactBase):
    """
    The HTTP status code a URL answers on the host itself, or ``None`` when nothing answers.

    .. code:: python

        200
    """

    requires_command = "curl"

    def command(self, url: str) -> str:
        return f"curl --silent --output /dev/null --max-time 5 --write-out '%{{http_code}}' {shlex.quote(url)} || true"

    def process(self, output: list[str]) -> int | None:
        code = output[0].strip() if output else ""
        return int(code) if code.isdigit() and code != "000" else None


class RunningServiceVariable(FactBase):
    """
    The value of one environment variable in the running main process of a systemd unit:
    ``None`` when the unit has no running process, ``""`` when the process lacks the variable.

    Read from ``/proc/<MainPID>/environ``: this is what the process was started with, which may
    differ from the unit file on disk if a restart never happened.

    .. code:: python

        "3f2a9c0e1b7d4a55"
    """

    requires_command = "systemctl"

    def command(self, unit: str, variable: str) -> str:
        unit, prefix = shlex.quote(unit), shlex.quote(f"{variable}=")
        return (f"pid=$(systemctl show --property MainPID --value {unit}); "
                f'if [ "${{pid:-0}}" != 0 ]; then echo running; '
                f'tr "\\0" "\\n" < /proc/$pid/environ | grep "^"{prefix} || true; fi')

    def process(self, output: list[str]) -> str | None:
        if not output or output[0].strip() != "running":
            return None
        return output[1].partition("=")[2] if len(output) > 1 else ""


class UnitNeedsDaemonReload(FactBase):
    """
    Whether systemd still has an older version of the unit file loaded.

    .. code:: python

        False
    """

    requires_command = "systemctl"

    def command(self, unit: str) -> str:
        return f"systemctl show --property NeedDaemonReload --value {shlex.quote(unit)}"

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "yes"


class PciDevices(FactBase):
    """
    PCI functions from sysfs (no pciutils needed), as dicts of slot, class, vendor and device.

    .. code:: python

        [{"slot": "0000:18:00.0", "class": "030200", "vendor": "10de", "device": "2335"}]
    """

    @staticmethod
    def default() -> list[dict[str, str]]:
        return []

    def command(self) -> str:
        return ('for d in /sys/bus/pci/devices/*; do [ -e "$d/class" ] && '
                'echo "${d##*/} $(cat "$d/class") $(cat "$d/vendor") $(cat "$d/device")"; done; true')

    def process(self, output: list[str]) -> list[dict[str, str]]:
        devices = []
        for line in output:
            parts = line.split()
            if len(parts) == 4:
                slot, pci_class, vendor, device = parts
                devices.append({"slot": slot, "class": pci_class.removeprefix("0x"),
                                "vendor": vendor.removeprefix("0x"), "device": device.removeprefix("0x")})
        return devices
