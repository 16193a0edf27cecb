"""The nvidia role's plan: the driver, toolkit and fabric a host gets (NvidiaPlan), resolved from the
catalog (catalog/nvidia.yaml) and the host's nvidia_* settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roles.vendor_plan import VendorStack, plan_vendor_stack

if TYPE_CHECKING:
    from glmstack.catalog import Catalog, DriverBranch, NvidiaPlatform
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class NvidiaPlan:
    """The driver, toolkit and fabric a host gets, resolved from the catalog and host data."""

    repo_url: str
    keyring_deb: str
    keyring_file: str
    key_fingerprint: str
    distributions: tuple[tuple[str, str], ...]
    architectures: tuple[tuple[str, str], ...]
    cuda_line: str
    toolkit_package: str
    cuda_home: str
    driver_branch: str
    driver_version: str
    driver_packages: tuple[str, ...]
    fabricmanager_packages: tuple[str, ...]
    nvlink5: bool
    nvlink5_packages: tuple[str, ...]
    nvlink5_modules: tuple[str, ...]
    version_globs: tuple[str, ...]
    build_packages: tuple[str, ...]
    nvswitch_pci_class: str
    allow_reboot: bool
    reboot_timeout: int
    dcgm_package: str | None
    # RHEL 9 (dnf): the branch's module stream and package names, and what holds them.
    rpm_gpg_key: str = ""
    rpm_key_sha256: str = ""
    rpm_key_file: str = ""
    rpm_module_stream: str = ""
    rpm_driver_packages: tuple[str, ...] = ()
    rpm_fabricmanager_packages: tuple[str, ...] = ()
    rpm_nvlink5_packages: tuple[str, ...] = ()
    rpm_version_globs: tuple[str, ...] = ()
    rpm_versionlock_package: str = ""
    rpm_required_repositories: tuple[tuple[str, str], ...] = ()


def _built_for_cuda(config: HostConfig, catalog: Catalog, lines: list[str], line: str) -> str:
    engine = catalog.release_for_host(config)
    return f"{config.engine} {engine.version} is built for CUDA {', '.join(lines)} only; got {line}"


NVIDIA = VendorStack(vendor="nvidia", prefix="nvidia_", name="NVIDIA", release_setting="nvidia_cuda",
                     release_kind="a CUDA line", repo_setting="nvidia_repo_url", wheels_problem=_built_for_cuda)


def _driver_branch(config: HostConfig, platform: NvidiaPlatform, line: str,
                   problems: list) -> tuple[str, str, DriverBranch] | None:
    """The driver branch, version and the catalog's packages of it: the host's, or the newest the
    CUDA line runs on."""
    cuda = platform.cuda_lines[line]
    eligible = sorted((b for b in platform.driver_branches if int(b) >= cuda.minimum_driver_branch), key=int)
    branch = config.nvidia_driver_branch or (config.nvidia_driver_version or "").split(".")[0] or (
        eligible[-1] if eligible else None)
    if branch is None or int(branch) < cuda.minimum_driver_branch:
        problems.append(("nvidia_driver_branch", f"CUDA {line} needs driver branch {cuda.minimum_driver_branch} "
                                                 f"or newer; got {branch}"))
        return None
    pinned = platform.driver_branches.get(branch)
    if pinned is None:
        problems.append(("nvidia_driver_branch", f"branch {branch} has no package list in the catalog; "
                                                 f"allowed: {', '.join(sorted(platform.driver_branches))}"))
        return None
    version = config.nvidia_driver_version or pinned.version
    if not version.startswith(f"{branch}."):
        problems.append(("nvidia_driver_version", f"{version} is not on driver branch {branch}"))
        return None
    return branch, version, pinned


def plan_nvidia(config: HostConfig, catalog: Catalog, problems: list) -> NvidiaPlan | None:
    platform = catalog.nvidia
    accelerator = catalog.accelerators[config.accelerator]
    driver: list[tuple[str, str, DriverBranch]] = []  # what the check found, for the build

    def driver_found(line: str) -> bool:
        found = _driver_branch(config, platform, line, problems)
        driver.extend([found] if found else [])
        return found is not None

    def build(line: str, repo_url: str) -> NvidiaPlan:
        (branch, version, pinned), cuda = driver[0], platform.cuda_lines[line]
        cuda_major = line.split(".")[0]
        return NvidiaPlan(
            repo_url=repo_url,
            keyring_deb=platform.repository.keyring_deb,
            keyring_file=platform.repository.keyring_file,
            key_fingerprint=platform.repository.key_fingerprint,
            distributions=tuple(sorted(platform.repository.distributions.items())),
            architectures=tuple(sorted(platform.repository.architectures.items())),
            cuda_line=line,
            toolkit_package=cuda.toolkit_package,
            cuda_home=cuda.home,
            driver_branch=branch,
            driver_version=version,
            driver_packages=tuple(pinned.packages),
            fabricmanager_packages=tuple(pinned.fabricmanager_packages),
            nvlink5=accelerator.nvidia_arch == "blackwell",
            nvlink5_packages=tuple(pinned.nvlink5_packages),
            nvlink5_modules=tuple(platform.nvlink5_modules),
            version_globs=tuple(platform.driver_version_globs),
            build_packages=tuple(platform.build_packages),
            nvswitch_pci_class=platform.nvswitch_pci_class,
            allow_reboot=config.nvidia_allow_reboot,
            reboot_timeout=config.nvidia_reboot_timeout,
            dcgm_package=platform.dcgm_package.format(cuda_major=cuda_major) if config.nvidia_dcgm else None,
            rpm_gpg_key=platform.repository.rpm_gpg_key,
            rpm_key_sha256=platform.repository.rpm_key_sha256,
            rpm_key_file=platform.repository.rpm_key_file,
            rpm_module_stream=pinned.rpm.module_stream,
            rpm_driver_packages=tuple(pinned.rpm.packages),
            rpm_fabricmanager_packages=tuple(pinned.rpm.fabricmanager_packages),
            rpm_nvlink5_packages=tuple(pinned.rpm.nvlink5_packages),
            rpm_version_globs=tuple(platform.rpm_version_globs),
            rpm_versionlock_package=platform.rpm_versionlock_package,
            rpm_required_repositories=tuple(platform.rpm_required_repositories.items()),
        )

    return plan_vendor_stack(config, catalog, problems, NVIDIA, config.nvidia_cuda or accelerator.cuda_default,
                             list(platform.cuda_lines), platform.repository.base_url, driver_found, build)
