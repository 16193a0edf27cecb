"""ascend: the NPU driver, firmware and CANN from the operator's package set.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations.

Its operations load only when a name of theirs is asked of the package (roles/__init__.py says why).
"""

from roles import operations_on_demand

__getattr__ = operations_on_demand(__name__)
