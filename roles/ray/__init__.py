"""ray: the deployment's Ray cluster, one `ray start --block` unit per node.

- operations.py: its pyinfra operations;
- files/: static files it copies to hosts.

Nothing is imported here: importing the role's defaults or plan does not load its operations
(pyinfra), and the operations, which use the deployment plan, do not run when the plan's
modules import the role's plan.
"""
