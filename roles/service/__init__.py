"""service: run the engine as a hardened systemd unit and wait until it reports healthy.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- render.py: the unit files, rendered from a UnitSpec;
- units.py: the UnitSpecs of a node's units;
- templates/: the files it writes on hosts (Jinja).

Nothing is imported here: importing the role's defaults or plan does not load its operations
(pyinfra), and the operations, which use the deployment plan, do not run when the plan's
modules import the role's plan.

`from roles.service import <name>` still finds the operations' names (PEP 562), loaded on
first use.
"""


def __getattr__(name: str) -> object:
    # Not for dunders (introspection loads nothing), nor for the submodule itself, which the import
    # system finds in sys.modules (also while it is being imported).
    if name.startswith("__") or name == "operations":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import roles.service.operations as operations

    return getattr(operations, name)
