"""gateway: the front door of a host that serves the API. The distribution's HAProxy listens on the
host's public port with TLS, checks the API key on every route but the health path, and passes
requests to the engine on loopback (and, in a replica group, to the group's other members);
docs/gateway.md says why HAProxy.

- defaults.py: its settings;
- plan.py: its plan (GatewayPlan), from host data, the catalog and the replica group;
- operations.py: its pyinfra operations;
- templates/: the files it writes on hosts (Jinja): haproxy.cfg, the certificate script, the keys'
  ACL script, the nftables rules of the group's port and the systemd drop-in hardening HAProxy.

Its operations load only when a name of theirs is asked of the package (roles/__init__.py says why).
"""

from roles import operations_on_demand

__getattr__ = operations_on_demand(__name__)
