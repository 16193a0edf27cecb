"""Helpers for inventory files: host data is validated when the inventory loads.

pyinfra loads inventory files before it connects to anything, so an inventory written with
`group()` refuses bad data (naming host, field and what is allowed) before any host is touched.

    # inventory/cpu.py
    from glmstack.inventory import group
    cpu = group([("cpu-1.lab.example", {"ssh_user": "root"})], accelerator="cpu", ...)
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from glmstack.hostdata import InventoryError
from glmstack.lock import Lock, read_lock
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

# `glmstack lock` loads inventories to write their lock: the lock there is what it replaces.
_ignore_lock: ContextVar[bool] = ContextVar("ignore_lock", default=False)


@contextmanager
def ignoring_lock():
    token = _ignore_lock.set(True)
    try:
        yield
    finally:
        _ignore_lock.reset(token)

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


# The lock files of the inventories loaded in this process (by the file that called group()): the
# deploy (deploys/glm52.py) resolves with the one pyinfra loaded.
_loaded_locks: dict[str, Lock] = {}


# The inventory a deploy run in this process is for (`glmstack drift` loads the deploy in-process; a
# plain global, as pyinfra may run the deploy file in greenlets of its own).
_deploy_inventory: list[str] = []


@contextmanager
def deploying(inventory: str | os.PathLike):
    _deploy_inventory.append(str(inventory))
    try:
        yield
    finally:
        _deploy_inventory.pop()


def deploy_lock() -> Lock | None:
    """The lock of the inventory this deploy runs on, as the deploy reads it (a model it does not hold
    is refused): the one `deploying()` names, $GLMSTACK_INVENTORY (`glmstack deploy` sets it), or the
    inventory file that called group() last (pyinfra loads it just before the deploy)."""
    named = (_deploy_inventory[-1] if _deploy_inventory else None) or os.environ.get("GLMSTACK_INVENTORY")
    if named:
        return read_lock(named, required=True)
    if _loaded_locks:
        return read_lock(list(_loaded_locks)[-1], required=True)
    return None


def group(hosts: list[HostEntry], **group_data: Any) -> list[tuple[str, dict[str, Any]]]:
    """Hosts with group data merged under their own, validated against the catalog and the lock file
    beside the inventory that calls this (glmstack.lock): loaded by `glmstack plan` a model not
    locked yet is reported, loaded for a deploy it is refused."""
    merged = _merge(hosts, group_data)
    caller = sys._getframe(1).f_globals.get("__file__")
    try:
        lock = (read_lock(caller, required=not _raise_on_invalid.get()) if caller else None)
        if lock is not None and _ignore_lock.get():
            lock = Lock(str(caller))
        if lock is not None:
            _loaded_locks[str(caller)] = lock
        validate_inventory(merged, lock=lock)
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
