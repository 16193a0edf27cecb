"""Operation helpers shared by the roles: the host's package family, installing packages, secrets."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal
from weakref import WeakKeyDictionary

from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, operation
from pyinfra.context import ctx_host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import File, Sha256File
from pyinfra.facts.rpm import RpmPackages
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, dnf

from glmstack.catalog import load_catalog
from glmstack.facts import DpkgState
from glmstack.os_packages import PackageStep

# pyinfra 3 asks the host again for every fact read; the OS does not change during a deploy.
_distributions: WeakKeyDictionary = WeakKeyDictionary()

# curl as every large download on a host runs it: retries, and giving up on a stalled transfer
# (under 1 KB/s for a minute) instead of hanging.
CURL_DOWNLOAD = "curl -fL --retry 5 --retry-delay 2 --speed-limit 1024 --speed-time 60 --silent --show-error"


def distribution() -> dict:
    """The host's LinuxDistribution fact, read once per host and deploy."""
    current = ctx_host.get()
    if current not in _distributions:
        _distributions[current] = host.get_fact(LinuxDistribution) or {}
    return _distributions[current]


def package_family() -> Literal["deb", "rpm"]:
    """deb on Debian/Ubuntu, rpm on RHEL (the base role's preflight refuses anything else)."""
    return load_catalog().packages.families.get(distribution().get("name"), "deb")


def installed_packages() -> dict[str, list[str]]:
    return host.get_fact(RpmPackages if package_family() == "rpm" else DebPackages)


def native_names(packages: list[str] | tuple[str, ...]) -> list[str]:
    """Debian-style names as this host's package manager calls them."""
    if package_family() == "deb":
        return list(packages)
    names = load_catalog().packages.rpm_names
    return list(dict.fromkeys(native for package in packages for native in names.get(package, [package])))


def ensure_packages(name: str, packages: list[str] | tuple[str, ...]) -> None:
    """Install packages, refreshing the index only when something is missing.

    apt.packages(update=True) refreshes on every run, which a converged host must not do.
    """
    packages = native_names(packages)
    installed = installed_packages()
    missing = [package for package in packages if package not in installed]
    if package_family() == "rpm":
        dnf.packages(name=name, packages=packages)
    else:
        apt.packages(name=name, packages=packages, update=bool(missing), no_recommends=True)


def engine_python() -> str:
    """The interpreter engines' virtual environments are made with on this host."""
    return load_catalog().packages.python[package_family()]


def install_step(step: PackageStep, **values: str) -> None:
    """ensure_packages for one step of glmstack.os_packages, in this host's family's names;
    `values` name what only the host knows ({kernel})."""
    ensure_packages(step.name, step.for_family(package_family(), **values))


@operation()
def recover_package_manager():
    """Wait for an apt run already going (a killed deploy's, unattended-upgrades), then finish
    what an interrupted dpkg left half-installed, so the installs after this can run."""
    state = host.get_fact(DpkgState)
    if not state["busy"] and not state["interrupted"]:
        host.noop("apt and dpkg are idle and complete")
        return
    yield ("for i in $(seq 300); do pidof apt-get apt dpkg >/dev/null || break; sleep 2; done; "
           "DEBIAN_FRONTEND=noninteractive dpkg --configure -a --force-confdef --force-confold && "
           "DEBIAN_FRONTEND=noninteractive apt-get -f install -y")


@operation()
def put_secret(src: str, dest: str):
    """Upload a secret to a root-only 0600 file. Unlike files.put, never shows its content (pyinfra's
    --diff would), and the file is 0600 before the secret is written into it."""
    local_sum = hashlib.sha256(Path(src).read_bytes()).hexdigest()
    remote = host.get_fact(File, path=dest)
    if remote and host.get_fact(Sha256File, path=dest) == local_sum:
        if (remote["user"], remote["group"], remote["mode"]) == ("root", "root", 600):
            host.noop(f"{dest} is in place")
            return
    else:
        yield StringCommand("install", "-m", "600", "-o", "root", "-g", "root", "/dev/null", QuoteString(dest))
        yield FileUploadCommand(src, dest, remote_temp_filename=host.get_temp_filename(dest))
    yield StringCommand("chown", "root:root", QuoteString(dest))
    yield StringCommand("chmod", "600", QuoteString(dest))
