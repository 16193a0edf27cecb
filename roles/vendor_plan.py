"""What the NVIDIA and AMD planners share: a vendor's stack comes from its own package repository
(or an operator's mirror of it) in one of the releases the catalog lists, and the engine's wheels
must be built for that release. roles/nvidia/plan.py and roles/amd/plan.py say only what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from glmstack.bundle import host_directory
from glmstack.checks import mirror_url

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig

Plan = TypeVar("Plan")


@dataclass(frozen=True)
class VendorStack:
    """How one vendor's settings and catalog data are named."""

    vendor: str  # the accelerators' catalog vendor
    prefix: str  # its role's setting prefix
    name: str  # in messages: "NVIDIA"
    release_setting: str  # the host setting choosing the release (nvidia_cuda)
    release_kind: str  # in messages: "a CUDA line"
    repo_setting: str  # the host setting naming a mirror
    wheels_problem: Callable[[HostConfig, Catalog, list[str], str], str]  # (config, catalog, built for, release)


# Where a bundle keeps each accelerator's Ascend package set (glmstack.vendor_bundle writes it).
ASCEND_DIR = "ascend"
ASCEND_MANIFEST = "manifest.yaml"


def ascend_bundle_source(bundle: str, accelerator: str) -> tuple[str, Path | None]:
    """The Ascend set's place in a bundle (a directory or an http(s) base) and its manifest on this
    machine (None for an http(s) bundle: the host data gives ascend_manifest)."""
    source = f"{bundle.rstrip('/')}/{ASCEND_DIR}/{accelerator}"
    return source, (Path(source) / ASCEND_MANIFEST if source.startswith("/") else None)


def bundle_source(config: HostConfig) -> str | None:
    """The host data's bundle (glmstack bundle): a directory on the control machine or an http(s)
    URL on the lab network; None without one."""
    bundle = getattr(config, "bundle", None)
    return str(bundle).rstrip("/") if bundle else None


def bundle_url(config: HostConfig) -> str | None:
    """Where a host given a bundle reads the vendors' partial mirrors (glmstack.vendor_bundle): the
    bundle's files it needs are placed on it (uploaded or fetched) and checked against the
    manifest by the base role, so apt, dnf and curl read them as file:// URLs. None: no bundle."""
    if bundle_source(config) is None:
        return None
    return f"file://{host_directory(config.base_prefix)}"


def vendor_base(repo_url: str, bundle: str | None, repo_id: str, family: str) -> str:
    """Where a host gets a vendor's packages: the bundle's partial mirror of its package family
    (<bundle>/apt/<repo id> or <bundle>/dnf/<repo id>, the same paths below as the vendor's base
    URL), or the vendor's repository (or the host data's mirror of it)."""
    if bundle is None:
        return repo_url.rstrip("/")
    return f"{bundle}/{'dnf' if family == 'rpm' else 'apt'}/{repo_id}"


def settings_of_other_vendors(config: HostConfig, prefix: str, vendor: str, accelerator: str,
                              actual: str) -> list[tuple[str, str]]:
    """Settings given for one vendor's role on another vendor's hardware: a copy from the wrong group."""
    what = actual if actual != "none" else "a plain CPU"
    return [(name, f"only applies to {vendor} accelerators; {accelerator} is {what}")
            for name in sorted(config.model_fields_set) if name.startswith(prefix)]


def plan_vendor_stack(config: HostConfig, catalog: Catalog, problems: list, stack: VendorStack, release: str,
                      releases: list[str], upstream_url: str, check: Callable[[str], bool],
                      build: Callable[[str, str], Plan]) -> Plan | None:
    """The vendor's plan, or None: not this vendor's accelerator (its settings are then refused), a
    release the catalog does not list, one `check` refuses (it adds the problem), one the engine has
    no wheels for, or a mirror that is not a plain http(s) URL. `build(release, repo_url, bundle_url)`
    makes it (bundle_url: the host data's bundle, whose partial mirrors then replace the repository)."""
    accelerator = catalog.accelerators[config.accelerator]
    if accelerator.vendor != stack.vendor:
        problems += settings_of_other_vendors(config, stack.prefix, stack.name, config.accelerator, accelerator.vendor)
        return None
    if release not in releases:
        problems.append((stack.release_setting, f"{release!r} is not {stack.release_kind} glmstack installs; "
                                                f"allowed: {', '.join(sorted(releases))}"))
        return None
    if not check(release):
        return None
    wheels = catalog.release_for_host(config).python_packages.get(stack.vendor, {})
    if wheels and release not in wheels:
        problems.append((stack.release_setting, stack.wheels_problem(config, catalog, sorted(wheels), release)))
        return None
    bundle = bundle_url(config)
    if bundle and getattr(config, stack.repo_setting):
        problems.append((stack.repo_setting, f"given with bundle, which carries {stack.name}'s packages: give one "
                                             "of them (the bundle is made from the repository this names)"))
        return None
    repo_url = mirror_url(stack.repo_setting, getattr(config, stack.repo_setting) or upstream_url, problems)
    if repo_url is None:
        return None
    return build(release, repo_url, bundle)
