"""llamacpp: build llama-server from a pinned llama.cpp source, once per version and flags.

- defaults.py: its settings;
- plan.py: its plan, from host data and the catalog;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Nothing is imported here (roles/__init__.py says why).
"""
