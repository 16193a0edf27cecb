"""engine: a Python engine (vLLM, SGLang) in its own uv-made virtual environment, pinned and proven.

- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Its operations load only when a name of theirs is asked of the package (roles/__init__.py says why).
"""

from roles import operations_on_demand

__getattr__ = operations_on_demand(__name__)
