"""The gateway in the lab (filled in below): TLS, keys, rotation, failover, convergence."""
