"""base: what every glmstack host needs before an engine: trust, packages, user, directories, time.

- defaults.py: its settings;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Nothing is imported here (roles/__init__.py says why).
"""
