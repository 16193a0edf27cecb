"""Operation helpers shared by the roles."""

from __future__ import annotations

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt


def ensure_packages(name: str, packages: list[str] | tuple[str, ...]) -> None:
    """Install Debian/Ubuntu packages, refreshing the index only when something is missing.

    apt.packages(update=True) refreshes on every run, which a converged host must not do.
    """
    installed = host.get_fact(DebPackages)
    missing = [package for package in packages if package not in installed]
    apt.packages(name=name, packages=list(packages), update=bool(missing), no_recommends=True)
