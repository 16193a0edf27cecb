"""Roles of the collection. Each role is a package of its own:

- defaults.py: its settings (pydantic), a part of the host-data schema;
- plan.py: its narrow plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- templates/ and files/: what it writes on hosts.

A role's __init__.py imports nothing: importing its defaults or plan (as the schema and the planners
do) must not load its operations (pyinfra), nor run them into the deployment plan's modules, which
import the role's plan. roles/registry.py lists the roles.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def operations_on_demand(package: str) -> Callable[[str], object]:
    """A role package's module __getattr__ (PEP 562): `from roles.model import fetch_script` finds
    the name in the role's operations, loaded on first use rather than when the package is."""

    def __getattr__(name: str) -> object:
        # Not for dunders (introspection loads nothing), nor for the submodule itself, which the import
        # system finds in sys.modules (also while it is being imported).
        if name.startswith("__") or name == "operations":
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.operations"), name)

    return __getattr__
