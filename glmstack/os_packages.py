"""The OS packages a host's deploy installs, step by step: the one list the roles install from
(each role's ensure_packages call reads its step here) and `glmstack bundle` carries
(glmstack.bundling.apt_packages reads bundle_packages), so neither restates the other.

A pure function of the host's DeployPlan: nothing here contacts the host. Whatever only the host
can tell (a container, a time daemon already there, RHEL's package names, the running kernel) is
decided by the role at run time; this list says what the step would install, and when. The NVIDIA
driver's pinned packages are not here: the nvidia role installs them at their pin itself, and
glmstack.vendor_repos names them for the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmstack.vendor_keys import GPG_PACKAGE
from roles.model.plan import HUB_CLIENTS

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan
    from roles.engine.plan import EngineEnvPlan

# What every host gets, whatever it serves.
BASE_PACKAGES = ("ca-certificates", "curl", "coreutils", "openssl", "tar", "gzip")
# uv is bootstrapped into a venv made with `python3 -m venv` (glmstack/templates/ensure-uv.sh.j2),
# which Debian and Ubuntu ship apart from python3.
UV_BOOTSTRAP = ("python3-venv",)


@dataclass(frozen=True)
class PackageStep:
    """One ensure_packages call of a role."""

    role: str
    name: str  # the operation's name, as the deploy shows it
    packages: tuple[str, ...]  # Debian names (glmstack.ops.native_names maps them for dnf)
    # RHEL's list where it is not just the Debian names mapped (kernel packages, dnf plugins);
    # None: the Debian names, mapped.
    rpm_packages: tuple[str, ...] | None = None
    # When the role installs them, if only the host can tell at run time ("" : always).
    when: str = ""
    # From the vendor's repository (a bundle's vendor part carries them: glmstack.vendor_repos),
    # not the distribution's.
    vendor: bool = False

    def for_family(self, family: str, **values: str) -> list[str]:
        """The names the role gives ensure_packages on a host of this family; `values` fill the
        names that name the host's own kernel ({kernel})."""
        names = self.rpm_packages if family == "rpm" and self.rpm_packages is not None else self.packages
        return [name.format(**values) for name in names]


# roles/service run_unit, for a unit with a port filter (it is given the unit, not the plan).
FIREWALL_STEP = PackageStep("service", "nftables, for the deployment's port filter", ("nftables",))


def engine_step(env: EngineEnvPlan) -> PackageStep:
    """The engine role's (deploys/engine_envs.py installs an environment without a whole plan)."""
    return PackageStep("engine", "Engine runtime packages", tuple(dict.fromkeys((*env.system_packages, *UV_BOOTSTRAP))))


def os_packages(plan: DeployPlan) -> dict[str, PackageStep]:
    """Every step of the host's deploy that installs OS packages, by key, in the order the deploy
    runs them. A step absent here is one the plan rules out; the roles look their steps up by key,
    so a role cannot install a step this list lacks."""
    config = plan.config
    steps: dict[str, PackageStep] = {
        "base": PackageStep("base", "Base packages", (*BASE_PACKAGES, *config.base_packages)),
    }
    if config.base_time_sync:
        steps["time-sync"] = PackageStep("base", "Time sync package", ("systemd-timesyncd",),
                                         when="not in a container, and no other time daemon installed")
    if plan.model.kind in HUB_CLIENTS:
        steps["hub-client"] = PackageStep("model", "Python for the hub client", UV_BOOTSTRAP)
    fanout = plan.fanout
    if fanout is not None and fanout.fetches and any(source.kind == "git" for source in fanout.llamacpp_sources):
        steps["fanout-git"] = PackageStep("model", "git, for llama.cpp's source", ("git",),
                                          when="a host of the group still needs packages from this one")
    if plan.nvidia is not None:
        platform = plan.nvidia.platform
        steps["nvidia-versionlock"] = PackageStep("nvidia", "dnf versionlock", (),
                                                  rpm_packages=(platform.rpm_versionlock_package,), when="RHEL")
        steps["nvidia-kernel"] = PackageStep(
            "nvidia", "Kernel headers and DKMS", ("linux-headers-{kernel}", *platform.build_packages),
            rpm_packages=("kernel-devel-{kernel}", "kernel-headers", *platform.build_packages))
    if plan.amd is not None:
        platform = plan.amd.platform
        steps["amd-gnupg"] = PackageStep("amd", "GnuPG, to check AMD's key", (GPG_PACKAGE,))
        steps["amd-kernel"] = PackageStep("amd", "Kernel headers", tuple(platform.kernel_packages),
                                          rpm_packages=tuple(platform.rpm_kernel_packages),
                                          when="linux-modules-extra on Ubuntu only")
        steps["amd-driver"] = PackageStep("amd", "amdgpu DKMS driver", tuple(platform.driver_packages), vendor=True)
        steps["amd-rocm"] = PackageStep("amd", f"ROCm {plan.amd.rocm}", tuple(platform.rocm_packages), vendor=True)
        steps["amd-versionlock"] = PackageStep("amd", "dnf versionlock", (),
                                               rpm_packages=(platform.rpm_versionlock_package,), when="RHEL")
    if plan.ascend is not None and not plan.ascend.local:
        steps["ascend-curl"] = PackageStep("ascend", "curl, to fetch the installers", ("curl",),
                                           when="an installer differs from what the host has")
    if plan.llamacpp is not None:
        steps["llamacpp"] = PackageStep("llamacpp", "llama.cpp build packages", tuple(plan.llamacpp.build_packages))
    if plan.engine_env is not None:
        steps["engine"] = engine_step(plan.engine_env)
    # The units with a port filter: the engine's (or RPC worker's) with cluster ports, and Ray's.
    if plan.cluster_ports or plan.ray is not None:
        steps["firewall"] = FIREWALL_STEP
    if plan.gateway is not None:
        steps["gateway"] = PackageStep("gateway", "HAProxy and openssl (nftables in a group), for the gateway",
                                       tuple(plan.gateway.packages))
    return steps


def package_step(plan: DeployPlan, key: str) -> PackageStep:
    """The step a role installs; a KeyError names a step the list lacks (then the bundle lacks it too)."""
    return os_packages(plan)[key]


def bundle_packages(plan: DeployPlan) -> list[str]:
    """The Debian packages a bundle carries for the host: every step's, also those whose condition
    only the host can tell.

    Why the superset: the bundle is made before any host is asked, and a package the host turns out
    to need but the bundle lacks stops an offline deploy, while one it carries needlessly costs only
    space. Left out, because no bundle can know them: names of the host's running kernel
    ({kernel}); its apt must already have them (docs/offline.md). RHEL-only steps are left out too:
    a bundle carries Debian and Ubuntu repositories, not RHEL's own.
    """
    names = [name for step in os_packages(plan).values() if not step.vendor
             for name in step.packages if "{" not in name]
    return list(dict.fromkeys(names))


def vendor_packages(plan: DeployPlan) -> list[str]:
    """The packages the roles install from their vendor's repository (what a bundle's vendor part
    carries, glmstack.vendor_repos, beside the pinned driver packages the roles install themselves)."""
    return list(dict.fromkeys(name for step in os_packages(plan).values() if step.vendor for name in step.packages))


def kernel_packages(plan: DeployPlan) -> list[str]:
    """The Debian names of the host's running kernel a deploy installs ({kernel} unfilled): what a
    bundle cannot carry."""
    return [name for step in os_packages(plan).values() for name in step.packages if "{" in name]
