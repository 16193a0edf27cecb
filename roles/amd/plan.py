"""The amd role's plan: ROCm, the amdgpu driver and the boot parameters a host gets (AmdPlan), from
the catalog (catalog/amd.yaml) and the host's amd_* settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roles.vendor_plan import VendorStack, plan_vendor_stack

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class AmdPlan:
    """ROCm, the amdgpu driver and the boot parameters a host gets."""

    repo_url: str
    upstream_url: str
    installer_deb: str
    installer_rpm: str
    key_url: str
    key_fingerprint: str
    rpm_key_file: str
    codenames: tuple[tuple[str, str], ...]
    rocm: str
    package_version: str
    split_driver: bool
    driver_packages: tuple[str, ...]
    kernel_packages: tuple[str, ...]
    rpm_kernel_packages: tuple[str, ...]
    rpm_versionlock_package: str
    rocm_packages: tuple[str, ...]
    held_packages: tuple[str, ...]
    kernel_parameters: tuple[str, ...]
    library_paths: tuple[str, ...]
    gfx_arch: str
    allow_reboot: bool
    reboot_timeout: int


def _wheels_for_rocm(config: HostConfig, catalog: Catalog, releases: list[str], rocm: str) -> str:
    return f"{config.engine} has wheels for ROCm {', '.join(releases)} only; got {rocm}"


AMD = VendorStack(vendor="amd", prefix="amd_", name="AMD", release_setting="amd_rocm", release_kind="a ROCm release",
                  repo_setting="amd_repo_url", wheels_problem=_wheels_for_rocm)


def plan_amd(config: HostConfig, catalog: Catalog, problems: list) -> AmdPlan | None:
    platform = catalog.amd
    accelerator = catalog.accelerators[config.accelerator]

    def build(rocm: str, repo_url: str) -> AmdPlan:
        release = platform.rocm_releases[rocm]
        return AmdPlan(
            repo_url=repo_url,
            upstream_url=platform.repository.base_url.rstrip("/"),
            installer_deb=platform.repository.installer_deb,
            installer_rpm=platform.repository.installer_rpm,
            key_url=f"{repo_url.rstrip('/')}/{platform.repository.key_path}",
            key_fingerprint=platform.repository.key_fingerprint,
            rpm_key_file=platform.repository.rpm_key_file,
            codenames=tuple(sorted(platform.repository.codenames.items())),
            rocm=rocm,
            package_version=release.package_version,
            split_driver=release.split_driver,
            driver_packages=tuple(platform.driver_packages),
            kernel_packages=tuple(platform.kernel_packages),
            rpm_kernel_packages=tuple(platform.rpm_kernel_packages),
            rpm_versionlock_package=platform.rpm_versionlock_package,
            rocm_packages=tuple(platform.rocm_packages),
            held_packages=tuple(platform.held_packages),
            kernel_parameters=tuple(platform.kernel_parameters),
            library_paths=tuple(platform.library_paths),
            gfx_arch=accelerator.gfx_arch or "",
            allow_reboot=config.amd_allow_reboot,
            reboot_timeout=config.amd_reboot_timeout,
        )

    return plan_vendor_stack(config, catalog, problems, AMD, config.amd_rocm or platform.default_rocm,
                             list(platform.rocm_releases), platform.repository.base_url, lambda rocm: True, build)
