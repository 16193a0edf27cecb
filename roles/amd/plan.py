"""The amd role's plan: ROCm, the amdgpu driver and the boot parameters a host gets (AmdPlan), from
the catalog (catalog/amd.yaml) and the host's amd_* settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roles.vendor_plan import VendorStack, plan_vendor_stack

if TYPE_CHECKING:
    from glmstack.catalog import AmdPlatform, Catalog, RocmRelease
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class AmdPlan:
    """ROCm, the amdgpu driver and the boot parameters a host gets: the catalog's AMD entry
    (catalog/amd.yaml) with the ROCm release chosen from it, and what the host data decides."""

    platform: AmdPlatform  # the repository, package lists, kernel parameters, ... (read through)
    release: RocmRelease  # platform.rocm_releases[rocm]
    repo_url: str  # AMD's repository or the operator's mirror of it
    rocm: str
    gfx_arch: str
    allow_reboot: bool
    reboot_timeout: int
    bundle_url: str | None = None  # the host data's bundle: its partial mirror replaces repo_url

    @property
    def upstream_url(self) -> str:
        return self.platform.repository.base_url.rstrip("/")

    def key_url(self, base: str) -> str:
        """ROCm's key below `base` (operations.repo_base: the repository, its mirror or the bundle's)."""
        return f"{base.rstrip('/')}/{self.platform.repository.key_path}"

    # The names the plan tests read (tests/plan/gpu_states.py), each through the catalog entry.
    @property
    def package_version(self) -> str:
        return self.release.package_version

    @property
    def rpm_versionlock_package(self) -> str:
        return self.platform.rpm_versionlock_package

    @property
    def held_packages(self) -> tuple[str, ...]:
        return tuple(self.platform.held_packages)

    @property
    def kernel_parameters(self) -> tuple[str, ...]:
        return tuple(self.platform.kernel_parameters)

    @property
    def library_paths(self) -> tuple[str, ...]:
        return tuple(self.platform.library_paths)


def _wheels_for_rocm(config: HostConfig, catalog: Catalog, releases: list[str], rocm: str) -> str:
    return f"{config.engine} has wheels for ROCm {', '.join(releases)} only; got {rocm}"


AMD = VendorStack(vendor="amd", prefix="amd_", name="AMD", release_setting="amd_rocm", release_kind="a ROCm release",
                  repo_setting="amd_repo_url", wheels_problem=_wheels_for_rocm)


def plan_amd(config: HostConfig, catalog: Catalog, problems: list) -> AmdPlan | None:
    platform = catalog.amd
    accelerator = catalog.accelerators[config.accelerator]

    def build(rocm: str, repo_url: str, bundle_url: str | None) -> AmdPlan:
        return AmdPlan(
            platform=platform,
            release=platform.rocm_releases[rocm],
            repo_url=repo_url,
            rocm=rocm,
            gfx_arch=accelerator.gfx_arch or "",
            allow_reboot=config.amd_allow_reboot,
            reboot_timeout=config.amd_reboot_timeout,
            bundle_url=bundle_url,
        )

    return plan_vendor_stack(config, catalog, problems, AMD, config.amd_rocm or platform.default_rocm,
                             list(platform.rocm_releases), platform.repository.base_url, lambda rocm: True, build)
