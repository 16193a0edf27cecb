"""Facts the roles read: each answers one question about a host."""

from __future__ import annotations

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
        return f"curl --silent --output /dev/null --max-time 5 --write-out '%{{http_code}}' '{url}' || true"

    def process(self, output: list[str]) -> int | None:
        code = output[0].strip() if output else ""
        return int(code) if code.isdigit() and code != "000" else None
