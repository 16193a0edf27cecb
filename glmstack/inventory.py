"""Helpers for inventory files: host data is validated when the inventory loads.

pyinfra loads inventory files before it connects to anything, so an inventory written with
`group()` refuses bad data (naming host, field and what is allowed) before any host is touched.

    # inventory/cpu.py
    from glmstack.inventory import group
    cpu = group([("cpu-1.lab.example", {"ssh_user": "root"})], accelerator="cpu", ...)
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from glmstack.hostdata import InventoryError
from glmstack.resolve import validate_inventory

# `glmstack plan` loads inventories to report on them, so there a problem raises instead of exiting.
_raise_on_invalid: ContextVar[bool] = ContextVar("raise_on_invalid", default=False)


@contextmanager
def raising_on_invalid_data():
    token = _raise_on_invalid.set(True)
    try:
        yield
    finally:
        _raise_on_invalid.reset(token)

HostEntry = str | tuple[str, dict[str, Any]]


def _merge(hosts: list[HostEntry], group_data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each host's data over the group's; an entry of another shape is passed on as it is, for
    validation to name (a host name given as a list, data that is not a dict, ...)."""
    if not isinstance(hosts, (list, tuple)):
        return hosts  # type: ignore[return-value]  # refused by validation, naming what it is
    merged: list[Any] = []
    for entry in hosts:
        if isinstance(entry, str):
            merged.append((entry, dict(group_data)))
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict):
            merged.append((entry[0], {**group_data, **entry[1]}))
        else:
            merged.append(entry)
    return merged


def group(hosts: list[HostEntry], **group_data: Any) -> list[tuple[str, dict[str, Any]]]:
    """Hosts with group data merged under their own, validated against the catalog."""
    merged = _merge(hosts, group_data)
    try:
        validate_inventory(merged)
    except InventoryError as error:
        if _raise_on_invalid.get():
            raise
        # pyinfra would wrap an exception in a traceback; the message is the whole story.
        sys.stderr.write(f"glmstack: invalid host data, nothing was contacted:\n{error}\n")
        raise SystemExit(2) from None
    return merged


def hosts_only(hosts: list[HostEntry], **group_data: Any) -> list[tuple[str, dict[str, Any]]]:
    """Hosts with group data merged, unvalidated (for inventories that only connect)."""
    return _merge(hosts, group_data)
