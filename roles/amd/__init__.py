"""amd: ROCm from AMD's amdgpu-install package, the amdgpu DKMS driver, and a kernel booted with iommu=pt.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Nothing is imported here: importing the role's defaults or plan does not load its operations
(pyinfra), and the operations, which use the deployment plan, do not run when the plan's
modules import the role's plan.

`from roles.amd import <name>` still finds the operations' names (PEP 562), loaded on
first use.
"""


def __getattr__(name: str) -> object:
    # Not for dunders (introspection loads nothing), nor for the submodule itself, which the import
    # system finds in sys.modules (also while it is being imported).
    if name.startswith("__") or name == "operations":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import roles.amd.operations as operations

    return getattr(operations, name)
