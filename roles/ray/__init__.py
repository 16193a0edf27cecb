"""ray: the deployment's Ray cluster, one `ray start --block` unit per node.

- operations.py: its pyinfra operations;
- files/: static files it copies to hosts.

Nothing is imported here (roles/__init__.py says why).
"""
