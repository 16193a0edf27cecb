"""base: what every glmstack host needs before an engine: trust, packages, user, directories, time.

- defaults.py: its settings;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja).

Nothing is imported here: importing the role's defaults or plan does not load its operations
(pyinfra), and the operations, which use the deployment plan, do not run when the plan's
modules import the role's plan.
"""
