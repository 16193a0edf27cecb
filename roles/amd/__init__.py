"""amd: ROCm from AMD's amdgpu-install package, the amdgpu DKMS driver, and a kernel booted with iommu=pt.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Its operations load only when a name of theirs is asked of the package (roles/__init__.py says why).
"""

from roles import operations_on_demand

__getattr__ = operations_on_demand(__name__)
