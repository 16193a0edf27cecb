"""The nvidia role's plan: the driver, toolkit and fabric a host gets (NvidiaPlan), resolved from the
catalog (catalog/nvidia.yaml) and the host's nvidia_* settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roles.vendor_plan import VendorStack, plan_vendor_stack

if TYPE_CHECKING:
    from glmstack.catalog import Catalog, CudaLine, DriverBranch, NvidiaPlatform
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class NvidiaPlan:
    """The driver, toolkit and fabric a host gets: the catalog's NVIDIA entry (catalog/nvidia.yaml) with
    the CUDA line and driver branch chosen from it, and what the host data decides."""

    platform: NvidiaPlatform  # the repository, package globs, NVLink5 modules, ... (read through)
    cuda: CudaLine  # platform.cuda_lines[cuda_line]
    driver: DriverBranch  # platform.driver_branches[driver_branch]: the branch's packages, deb and rpm
    repo_url: str  # NVIDIA's repository or the operator's mirror of it
    cuda_line: str
    driver_branch: str
    driver_version: str  # the branch's pin, or the host's own version on that branch
    nvlink5: bool
    allow_reboot: bool
    reboot_timeout: int
    dcgm_package: str | None
    bundle_url: str | None = None  # the host data's bundle: its partial mirror replaces repo_url

    # The names the plan tests read (tests/plan/gpu_states.py), each through the catalog entry.
    @property
    def toolkit_package(self) -> str:
        return self.cuda.toolkit_package

    @property
    def driver_packages(self) -> tuple[str, ...]:
        return tuple(self.driver.packages)

    @property
    def fabricmanager_packages(self) -> tuple[str, ...]:
        return tuple(self.driver.fabricmanager_packages)

    @property
    def nvlink5_packages(self) -> tuple[str, ...]:
        return tuple(self.driver.nvlink5_packages)

    @property
    def rpm_driver_packages(self) -> tuple[str, ...]:
        return tuple(self.driver.rpm.packages)

    @property
    def rpm_fabricmanager_packages(self) -> tuple[str, ...]:
        return tuple(self.driver.rpm.fabricmanager_packages)

    @property
    def rpm_module_stream(self) -> str:
        return self.driver.rpm.module_stream

    @property
    def build_packages(self) -> tuple[str, ...]:
        return tuple(self.platform.build_packages)

    @property
    def rpm_versionlock_package(self) -> str:
        return self.platform.rpm_versionlock_package

    @property
    def keyring_file(self) -> str:
        return self.platform.repository.keyring_file

    @property
    def rpm_key_file(self) -> str:
        return self.platform.repository.rpm_key_file

    @property
    def rpm_key_sha256(self) -> str:
        return self.platform.repository.rpm_key_sha256


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

    def build(line: str, repo_url: str, bundle_url: str | None) -> NvidiaPlan:
        (branch, version, pinned), cuda = driver[0], platform.cuda_lines[line]
        cuda_major = line.split(".")[0]
        return NvidiaPlan(
            platform=platform,
            cuda=cuda,
            driver=pinned,
            repo_url=repo_url,
            cuda_line=line,
            driver_branch=branch,
            driver_version=version,
            nvlink5=accelerator.nvidia_arch == "blackwell",
            allow_reboot=config.nvidia_allow_reboot,
            reboot_timeout=config.nvidia_reboot_timeout,
            dcgm_package=platform.dcgm_package.format(cuda_major=cuda_major) if config.nvidia_dcgm else None,
            bundle_url=bundle_url,
        )

    return plan_vendor_stack(config, catalog, problems, NVIDIA, config.nvidia_cuda or accelerator.cuda_default,
                             list(platform.cuda_lines), platform.repository.base_url, driver_found, build)
