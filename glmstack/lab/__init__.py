"""A lab of real Debian nodes (systemd as PID 1, own network namespace, sshd) on this machine."""
