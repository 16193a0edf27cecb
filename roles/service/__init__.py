"""service: run the engine as a hardened systemd unit and wait until it reports healthy.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- render.py: the unit files, rendered from a UnitSpec;
- units.py: the UnitSpecs of a node's units;
- templates/: the files it writes on hosts (Jinja).

Its operations load only when a name of theirs is asked of the package (roles/__init__.py says why).
"""

from roles import operations_on_demand

__getattr__ = operations_on_demand(__name__)
