"""What a bundle carries from the vendors' own package repositories: which repositories, at which
paths, and which packages at which versions each host's deploy installs from them.

A pure function of the hosts' DeployPlans and the catalog (catalog/nvidia.yaml, catalog/amd.yaml):
nothing is fetched here. glmstack.vendor_mirror fetches what this names and writes the partial
mirrors (OUT/apt/<repo id>/, OUT/dnf/<repo id>/), each at the same path below the repository id as
below the vendor's base URL, so a deploy from the bundle uses the roles' own mirror setting
(nvidia_repo_url, amd_repo_url) pointed at <bundle>/<apt|dnf>/<repo id>.

Which distribution a host runs is a fact of the host, not of its data: a bundle carries every
distribution the vendor's repository and glmstack both support (catalog packages.distributions),
for each CPU architecture the accelerator comes with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from glmstack.catalog import load_catalog
from glmstack.os_packages import vendor_packages

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.plan import DeployPlan

APT, DNF = "apt", "dnf"
RPM_OS_IDS = ("rhel",)
# Debian's architecture names, as Packages indexes spell them.
DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True, order=True)
class PackagePin:
    """A package the deploy installs: at exactly `version` (the upstream version, as the roles pin
    it: apt `<version>-*`, dnf `<name>-<version>`), or the newest in the repository when None."""

    name: str
    version: str | None = None


@dataclass(frozen=True)
class VendorRepo:
    """One vendor repository a bundle mirrors part of."""

    vendor: str  # nvidia, amd
    kind: str  # apt or dnf
    repo_id: str  # OUT/<kind>/<repo_id>/ holds it
    base_url: str  # the vendor's base URL (or the host data's mirror of it) the paths are below
    path: str  # the repository (NVIDIA) or the installer's directory (AMD), below base_url
    distribution: str  # os-release ID-VERSION_ID
    arch: str  # uname -m
    # Plain files below base_url the deploy fetches (the keyring package, the rpm key, the installer).
    files: tuple[str, ...]
    packages: tuple[PackagePin, ...]
    # Packages whose versions follow a pin (driver_version_globs) and the version they follow:
    # also the dependency closure takes those at that version.
    version_globs: tuple[str, ...] = ()
    pinned_version: str | None = None
    # dnf: the module stream the role enables (its packages come from the module's metadata).
    module_stream: str | None = None
    # The signing key: its fingerprint (the repository metadata is verified with it) and, where
    # the vendor publishes only a sum of the key, that sum.
    key_fingerprint: str | None = None
    key_sha256: str | None = None
    # AMD: the repositories come from the installer package's own source files (None: this path is
    # the repository itself).
    repositories_from_installer: bool = False
    hosts: tuple[str, ...] = field(default=(), compare=False)

    @property
    def deb_arch(self) -> str:
        return DEB_ARCH[self.arch]


def _nvidia_repos(plan: DeployPlan, catalog: Catalog) -> list[VendorRepo]:
    nvidia = plan.nvidia
    platform = nvidia.platform
    repository = platform.repository
    accelerator = plan.accelerator
    # The deploy finds NVSwitches on the PCI bus; the bundle carries the fabric for boards that have them.
    fabric = accelerator.nvswitch
    repos = []
    for distribution, directory in sorted(repository.distributions.items()):
        if distribution not in catalog.packages.distributions:
            continue
        rpm = family(distribution) == "rpm"
        for arch in accelerator.cpu_arch:
            path = f"{directory}/{repository.architectures[arch]}"
            if rpm:
                driver = nvidia.driver.rpm
                names = [*driver.packages, *(driver.fabricmanager_packages if fabric else []),
                         *(driver.nvlink5_packages if fabric and nvidia.nvlink5 else [])]
                globs, files, key = platform.rpm_version_globs, (f"{path}/{repository.rpm_gpg_key}",), None
            else:
                driver = nvidia.driver
                names = [*driver.packages, *(driver.fabricmanager_packages if fabric else []),
                         *(driver.nvlink5_packages if fabric and nvidia.nvlink5 else [])]
                globs, files, key = (platform.driver_version_globs, (f"{path}/{repository.keyring_deb}",),
                                     repository.key_fingerprint)
            names += [nvidia.cuda.toolkit_package, *([nvidia.dcgm_package] if nvidia.dcgm_package else [])]
            pins = tuple(sorted({PackagePin(n, nvidia.driver_version if _matches(n, globs) else None)
                                 for n in names}))
            repos.append(VendorRepo(
                vendor="nvidia", kind=DNF if rpm else APT, repo_id="nvidia", base_url=nvidia.repo_url.rstrip("/"),
                path=path, distribution=distribution, arch=arch, files=files, packages=pins,
                version_globs=tuple(globs), pinned_version=nvidia.driver_version,
                module_stream=nvidia.driver.rpm.module_stream if rpm else None, key_fingerprint=key,
                key_sha256=repository.rpm_key_sha256 if rpm else None, hosts=(plan.host,)))
    return repos


def _amd_repos(plan: DeployPlan, catalog: Catalog) -> list[VendorRepo]:
    amd = plan.amd
    platform = amd.platform
    repository = platform.repository
    names = [*vendor_packages(plan), *platform.held_packages]
    base = amd.repo_url.rstrip("/")
    repos = []
    for arch in plan.accelerator.cpu_arch:
        for distribution, codename in sorted(repository.codenames.items()):
            if distribution not in catalog.packages.distributions:
                continue
            installer = repository.installer_deb.format(base=base, rocm=amd.rocm, codename=codename,
                                                        package_version=amd.release.package_version)
            repos.append(_amd_repo(plan, APT, base, installer, distribution, arch, names))
        rpm = [d for d, family in _families(catalog).items() if family == "rpm"]
        for distribution in rpm:
            installer = repository.installer_rpm.format(base=base, rocm=amd.rocm,
                                                        package_version=amd.release.package_version)
            repos.append(_amd_repo(plan, DNF, base, installer, distribution, arch, names))
    return repos


def _amd_repo(plan: DeployPlan, kind: str, base: str, installer_url: str, distribution: str, arch: str,
              names: list[str]) -> VendorRepo:
    amd = plan.amd
    installer = installer_url[len(base) + 1:]
    # amdgpu-install pins nothing by version: the release's repositories hold one ROCm release.
    return VendorRepo(
        vendor="amd", kind=kind, repo_id="amd", base_url=base, path=installer.rsplit("/", 1)[0],
        distribution=distribution, arch=arch, files=(installer, amd.platform.repository.key_path),
        packages=tuple(sorted({PackagePin(n) for n in names if n != "amdgpu-install"})),
        key_fingerprint=amd.platform.repository.key_fingerprint, repositories_from_installer=True,
        hosts=(plan.host,))


def _families(catalog: Catalog) -> dict[str, str]:
    """os-release ID-VERSION_ID -> deb or rpm, for the distributions glmstack supports."""
    return {name: family(name) for name in catalog.packages.distributions}


def family(distribution: str) -> str:
    """deb or rpm, for an os-release ID-VERSION_ID glmstack supports (RHEL is its one rpm family)."""
    return "rpm" if distribution.split("-")[0] in RPM_OS_IDS else "deb"


def _matches(name: str, globs: Iterable[str]) -> bool:
    from fnmatch import fnmatch

    return any(fnmatch(name, glob) for glob in globs)


def vendor_repos(plans: Iterable[DeployPlan], catalog: Catalog | None = None,
                 distributions: Iterable[str] | None = None) -> list[VendorRepo]:
    """Every vendor repository the hosts' deploys install from, one entry per (kind, repository
    id, path, distribution, architecture), the hosts' packages merged; sorted. distributions: only
    these os-release ID-VERSION_IDs (None: every one glmstack supports)."""
    catalog = catalog or load_catalog()
    wanted = set(distributions) if distributions is not None else None
    merged: dict[tuple, VendorRepo] = {}
    for plan in plans:
        found = (_nvidia_repos(plan, catalog) if plan.nvidia else []) + (_amd_repos(plan, catalog) if plan.amd else [])
        for repo in found:
            if wanted is not None and repo.distribution not in wanted:
                continue
            key = (repo.kind, repo.repo_id, repo.base_url, repo.path, repo.distribution, repo.arch)
            if key in merged:
                old = merged[key]
                repo = VendorRepo(**{**old.__dict__,
                                     "packages": tuple(sorted(set(old.packages) | set(repo.packages))),
                                     "files": tuple(dict.fromkeys(old.files + repo.files)),
                                     "hosts": old.hosts + repo.hosts})
            merged[key] = repo
    return [merged[key] for key in sorted(merged)]
