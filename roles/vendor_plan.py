"""What the NVIDIA and AMD planners share: a vendor's stack comes from its own package repository
(or an operator's mirror of it) in one of the releases the catalog lists, and the engine's wheels
must be built for that release. roles/nvidia/plan.py and roles/amd/plan.py say only what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

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
    no wheels for, or a mirror that is not a plain http(s) URL. `build(release, repo_url)` makes it."""
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
    repo_url = mirror_url(stack.repo_setting, getattr(config, stack.repo_setting) or upstream_url, problems)
    if repo_url is None:
        return None
    return build(release, repo_url)
