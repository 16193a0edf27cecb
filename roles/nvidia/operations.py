"""nvidia: NVIDIA's repository, the pinned open-module driver, the CUDA toolkit and the fabric.

What the catalog pins is what gets installed and held: the driver at one exact version (apt
preferences plus holds, so unattended upgrades cannot split driver and libraries), the fabric
manager at that same version on NVSwitch systems (found on the PCI bus, not assumed), and the
CUDA toolkit of the host's line. A host already in that state is left untouched.

When the running kernel has another driver loaded than the one installed, the deploy reboots
if the host data allows it (nvidia_allow_reboot) and verifies the driver after; otherwise it
stops there and says what to do.
"""

from __future__ import annotations

import fnmatch
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.dnf import DnfEnabledModules
from pyinfra.facts.files import Sha256File
from pyinfra.facts.server import Arch, KernelVersion
from pyinfra.operations import files, server, systemd

from glmstack.facts import (
    AptComponentEnabled,
    AptHeldPackages,
    DnfEnabledRepositories,
    DnfVersionLocks,
    NvidiaDriver,
    PciDevices,
)
from glmstack.ops import distribution, install_step, installed_packages, package_family
from glmstack.os_packages import package_step
from glmstack.quoting import shell_word
from glmstack.templating import role_templates
from glmstack.vendor_keys import deb_keys_check, rpm_key_import_by_sum
from roles.base.operations import BUNDLE_SOURCES_DIR
from roles.dkms import check_secure_boot, once_per_content, reboot_or_stop
from roles.vendor_plan import vendor_base

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan
    from roles.nvidia.plan import NvidiaPlan

# What the role writes to a host: templates/ and files/ in its folder.
_templates = role_templates(__file__)
FILES = Path(__file__).resolve().parent / "files"
PREFERENCES_FILE = "/etc/apt/preferences.d/glmstack-nvidia"
NOUVEAU_BLACKLIST = "/etc/modprobe.d/glmstack-blacklist-nouveau.conf"
NOUVEAU_CONFIG = (FILES / "blacklist-nouveau.conf").read_text()
# RHEL's initramfs is built by dracut, which must be told to leave nouveau out.
DRACUT_OMIT = "/etc/dracut.conf.d/glmstack-omit-nouveau.conf"
DRACUT_CONFIG = (FILES / "omit-nouveau.conf").read_text()
INITRAMFS_REBUILD = {"deb": "update-initramfs -u", "rpm": "dracut --regenerate-all --force"}
DNF_INSTALL = "dnf install -y --allowerasing"
APT_INSTALL = ("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends --allow-downgrades "
               "--allow-change-held-packages -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold")


# ---- what the host is ----


def repository_distribution(plan: DeployPlan) -> str:
    """NVIDIA's directory name for this host's OS (debian12, ubuntu2404, ...)."""
    release = distribution()
    os_id = (release.get("release_meta", {}).get("ID") or release.get("name") or "").lower()
    version = release.get("release_meta", {}).get("VERSION_ID") or str(release.get("major") or "")
    table = dict(plan.nvidia.platform.repository.distributions)
    for key in (f"{os_id}-{version}", f"{os_id}-{version.split('.')[0]}"):
        if key in table:
            return table[key]
    raise DeployError(f"host {host.name}: NVIDIA's repository has no packages for {os_id} {version}; "
                      f"supported: {', '.join(sorted(table))}")


def repository_url(plan: DeployPlan, directory: str) -> str:
    """NVIDIA's repository of this host's OS and CPU: the vendor's, the host data's mirror, or the
    bundle's partial mirror of it (the same path below each)."""
    arch = host.get_fact(Arch)
    base = vendor_base(plan.nvidia.repo_url, plan.nvidia.bundle_url, "nvidia", package_family())
    return f"{base}/{directory}/{dict(plan.nvidia.platform.repository.architectures)[arch]}"


def has_nvswitch(plan: DeployPlan) -> bool:
    return any(device["vendor"] == plan.accelerator_pci_vendor
               and device["class"][:4] == plan.nvidia.platform.nvswitch_pci_class
               for device in host.get_fact(PciDevices))


def driver_pinned(nvidia: NvidiaPlan, package: str) -> bool:
    globs = nvidia.platform.rpm_version_globs if package_family() == "rpm" else nvidia.platform.driver_version_globs
    return any(fnmatch.fnmatch(package, glob) for glob in globs)


def family_packages(nvidia: NvidiaPlan) -> dict[str, list[str]]:
    """The driver, fabric manager and NVLink5 package names of this host's package family."""
    if package_family() == "rpm":
        return {"driver": nvidia.driver.rpm.packages, "fabric": nvidia.driver.rpm.fabricmanager_packages,
                "nvlink5": nvidia.driver.rpm.nvlink5_packages}
    return {"driver": nvidia.driver.packages, "fabric": nvidia.driver.fabricmanager_packages,
            "nvlink5": nvidia.driver.nvlink5_packages}


def preferences(nvidia: NvidiaPlan) -> str:
    """apt's preferences stanza: one line a field, the packages one word each."""
    return _templates.get_template("preferences.j2").render(nvidia=nvidia)


# ---- preflight ----


def preflight(plan: DeployPlan) -> None:
    """Stop before any change on a host whose firmware would refuse the driver."""
    nvidia = plan.nvidia
    repository_distribution(plan)
    if package_family() == "rpm":
        enabled = " ".join(host.get_fact(DnfEnabledRepositories))
        missing = [how for repo, how in nvidia.platform.rpm_required_repositories.items()
                   if repo not in enabled and not (repo == "crb" and "codeready-builder" in enabled)]
        if missing:
            raise DeployError(f"host {host.name}: the NVIDIA driver's DKMS build needs these repositories "
                              f"enabled: {'; '.join(missing)}. Nothing was changed on this host.")
    if host.get_fact(NvidiaDriver)["loaded"] == nvidia.driver_version:
        return  # whatever signed it, the pinned driver already loads here
    check_secure_boot("NVIDIA")


# ---- operations ----


def _installed_at(installed: dict, package: str, version: str | None) -> bool:
    versions = installed.get(package) or []
    if version is None:
        return bool(versions)
    return any(str(v).split(":")[-1].startswith(f"{version}-") for v in versions)


@operation()
def pinned_packages(packages: list[str], nvidia: NvidiaPlan):
    """Install the packages (driver-family ones at the pinned driver version) and hold them."""
    rpm = package_family() == "rpm"
    installed = installed_packages()
    held = host.get_fact(DnfVersionLocks) if rpm else dict.fromkeys(host.get_fact(AptHeldPackages), "")

    def wanted(package: str) -> str | None:
        return nvidia.driver_version if driver_pinned(nvidia, package) else None

    wrong = [p for p in packages if not _installed_at(installed, p, wanted(p))]
    unheld = [p for p in packages if p not in held or (rpm and wanted(p) and held[p] != wanted(p))]
    if not wrong and not unheld:
        host.noop(f"{', '.join(packages)} installed and held")
        return
    names = " ".join(shell_word(p) for p in packages)
    if wrong:
        # Holds on packages of another driver version would block the switch: lift those (and the
        # holds on what is about to change); packages already at the pin keep theirs.
        stale = sorted(p for p in held if driver_pinned(nvidia, p)
                       and (p in wrong or not _installed_at(installed, p, nvidia.driver_version)))
        if stale:
            release = "dnf versionlock delete" if rpm else "apt-mark unhold"
            yield f"{release} " + " ".join(shell_word(p) for p in stale)
        if rpm:
            specs = " ".join(shell_word(f"{p}-{wanted(p)}" if wanted(p) else p) for p in packages)
            yield f"{DNF_INSTALL} {specs}"
        else:
            yield f"apt-get update && {APT_INSTALL} {names}"
    elif rpm:
        yield f"dnf versionlock delete {names} || true"
    yield f"dnf versionlock add {names}" if rpm else f"apt-mark hold {names}"


@operation()
def driver_module_stream(nvidia: NvidiaPlan):
    """RHEL: the driver branch is a dnf module stream; switching branches resets the module first."""
    current = host.get_fact(DnfEnabledModules).get("nvidia-driver")
    if current == nvidia.driver.rpm.module_stream:
        host.noop(f"nvidia-driver:{current} is enabled")
        return
    if current:
        yield "dnf module reset -y nvidia-driver"
    yield f"dnf module enable -y nvidia-driver:{shell_word(nvidia.driver.rpm.module_stream)}"


@operation()
def install_keyring(plan: DeployPlan, url: str):
    """NVIDIA's repository signing key, from the (possibly mirrored) repository itself."""
    if "cuda-keyring" in installed_packages():
        host.noop("cuda-keyring is installed")
        return
    repository = plan.nvidia.platform.repository
    deb = f"/tmp/glmstack-{repository.keyring_deb}"
    yield (f"curl -fsSL --retry 3 -o {shell_word(deb)} {shell_word(url + '/' + repository.keyring_deb)} && "
           f"{{ {deb_keys_check(deb, repository.key_fingerprint, 'NVIDIA')}; }} && "
           f"dpkg -i {shell_word(deb)} && rm -f {shell_word(deb)}")


@operation()
def import_rpm_key(nvidia: NvidiaPlan, url: str):
    """NVIDIA's RPM signing key, imported only with the sum NVIDIA publishes for it."""
    repository = nvidia.platform.repository
    if host.get_fact(Sha256File, path=repository.rpm_key_file) == repository.rpm_key_sha256:
        host.noop(f"{repository.rpm_key_file} is NVIDIA's key")
        return
    yield rpm_key_import_by_sum(f"{url}/{repository.rpm_gpg_key}", repository.rpm_key_sha256, repository.rpm_key_file,
                                "NVIDIA")


@operation()
def enable_contrib():
    """Debian keeps the NVIDIA driver's dependencies in contrib: add it to the host's own sources."""
    if host.get_fact(AptComponentEnabled, component="contrib"):
        host.noop("contrib is enabled")
        return
    yield ("for f in /etc/apt/sources.list.d/*.sources; do [ -f \"$f\" ] && "
           "sed -i -E '/^Components:/{/contrib/!s/$/ contrib/}' \"$f\"; done; "
           "[ -f /etc/apt/sources.list ] && sed -i -E '/^deb /{/ contrib/!s/ main/ main contrib/}' "
           "/etc/apt/sources.list; true")




@operation()
def load_installed_driver(nvidia: NvidiaPlan):
    """Make the running kernel use the installed driver: load it, or reboot, or stop and say so."""
    driver = host.get_fact(NvidiaDriver)
    if driver["loaded"] == nvidia.driver_version:
        host.noop(f"driver {nvidia.driver_version} is loaded")
        return
    if driver["loaded"] is None and not driver["nouveau"]:
        # Nothing holds the GPUs: the module loads without a reboot.
        yield "modprobe nvidia && modprobe nvidia_uvm"
        return
    what = f"driver {driver['loaded']} is loaded" if driver["loaded"] else (
        "no NVIDIA driver is loaded (nouveau holds the GPUs)")
    yield from reboot_or_stop(f"NVIDIA driver {nvidia.driver_version} is installed but {what}",
                              nvidia.allow_reboot, nvidia.reboot_timeout, "nvidia_allow_reboot")


@operation()
def verify_loaded_driver(nvidia: NvidiaPlan):
    """The driver the kernel runs is exactly the pinned one (after a load or a reboot)."""
    if host.get_fact(NvidiaDriver)["loaded"] == nvidia.driver_version:
        host.noop(f"driver {nvidia.driver_version} is loaded")
        return
    want = shell_word(nvidia.driver_version)
    message = f"host {host.name}: expected NVIDIA driver {nvidia.driver_version} loaded, found"
    yield (f'loaded=$(cat /sys/module/nvidia/version 2>/dev/null); if [ "$loaded" != {want} ]; then '
           f'echo {shell_word(message)} "${{loaded:-none}}" >&2; '
           "dmesg 2>/dev/null | grep -iE 'nvidia|nvrm' | tail -n 20 >&2; exit 1; fi")


def yum_repository(name: str, url: str, key_file: str) -> str:
    """The .repo file of NVIDIA's repository at `url` (the host data's mirror): one value a line."""
    return _templates.get_template("cuda.repo.j2").render(name=name, url=url, key_file=key_file)


def apt_source(url: str, keyring_file: str, bundled: bool = False) -> str:
    """The one-line apt source of NVIDIA's repository at `url` (the host data's mirror, or the
    bundle's partial mirror: `bundled`)."""
    return _templates.get_template("cuda.list.j2").render(url=url, keyring_file=keyring_file, bundled=bundled)


def _repository(plan: DeployPlan, url: str, directory: str) -> None:
    nvidia = plan.nvidia
    arch_dir = url.rsplit("/", 1)[-1]
    name = f"cuda-{directory}-{arch_dir}"
    if package_family() == "rpm":
        import_rpm_key(name="NVIDIA repository key", nvidia=nvidia, url=url)
        files.put(name="NVIDIA repository", dest=f"/etc/yum.repos.d/{name}.repo", mode="644",
                  src=StringIO(yum_repository(name, url, nvidia.platform.repository.rpm_key_file)))
        install_step(package_step(plan, "nvidia-versionlock"))
        driver_module_stream(name=f"Driver branch {nvidia.driver_branch} (dnf module)", nvidia=nvidia)
        return
    install_keyring(name="NVIDIA repository key", plan=plan, url=url)
    # The keyring package ships a source under this very name; ours replaces it with the chosen base URL.
    # With a bundle apt reads only the bundle's sources (roles/base): the bundle's copy is listed there.
    bundled = nvidia.bundle_url is not None
    sources = BUNDLE_SOURCES_DIR if bundled else "/etc/apt/sources.list.d"
    files.put(name="NVIDIA repository", dest=f"{sources}/{name}.list", create_remote_dir=bundled,
              src=StringIO(apt_source(url, nvidia.platform.repository.keyring_file, bundled)), mode="644")
    files.put(name="Pin the driver version", dest=PREFERENCES_FILE, src=StringIO(preferences(nvidia)), mode="644")


def _kernel_side(plan: DeployPlan) -> None:
    install_step(package_step(plan, "nvidia-kernel"), kernel=host.get_fact(KernelVersion))


def _blacklist_nouveau(plan: DeployPlan) -> None:
    files.put(name="Blacklist nouveau", dest=NOUVEAU_BLACKLIST, src=StringIO(NOUVEAU_CONFIG), mode="644")
    content = NOUVEAU_CONFIG
    if package_family() == "rpm":
        files.put(name="Leave nouveau out of the initramfs", dest=DRACUT_OMIT, src=StringIO(DRACUT_CONFIG),
                  mode="644")
        content += DRACUT_CONFIG
    once_per_content(name="Rebuild the initramfs without nouveau", command=INITRAMFS_REBUILD[package_family()],
                     content=content,
                     stamp=f"{plan.config.base_state_dir}/initramfs-glmstack-blacklist-nouveau.conf.sha256")


@deploy("glmstack nvidia")
def install_nvidia(plan: DeployPlan) -> None:
    nvidia = plan.nvidia
    directory = repository_distribution(plan)
    url = repository_url(plan, directory)
    names = family_packages(nvidia)
    if directory.startswith("debian"):
        enable_contrib(name="Enable Debian's contrib component")
    _kernel_side(plan)
    _repository(plan, url, directory)
    pinned_packages(name=f"NVIDIA driver {nvidia.driver_version} (open modules)",
                    packages=list(names["driver"]), nvidia=nvidia)
    _blacklist_nouveau(plan)
    pinned_packages(name=f"CUDA {nvidia.cuda_line} toolkit", packages=[nvidia.cuda.toolkit_package], nvidia=nvidia)
    nvswitch = has_nvswitch(plan)
    if nvswitch:
        pinned_packages(name=f"Fabric manager {nvidia.driver_version}", packages=list(names["fabric"]),
                        nvidia=nvidia)
        if nvidia.nvlink5:
            pinned_packages(name="NVLink5 subnet manager", packages=list(names["nvlink5"]), nvidia=nvidia)
            for module in nvidia.platform.nvlink5_modules:
                files.put(name=f"Load {module} at boot", dest=f"/etc/modules-load.d/glmstack-{module}.conf",
                          src=StringIO(_templates.get_template("modules-load.conf.j2").render(module=module)),
                          mode="644")
                server.modprobe(name=f"Load {module}", module=module)
    load_installed_driver(name="Run the installed driver", nvidia=nvidia)
    verify_loaded_driver(name="Verify the loaded driver", nvidia=nvidia)
    systemd.service(name="Persistence daemon", service="nvidia-persistenced", running=True, enabled=True)
    if nvswitch:
        systemd.service(name="Fabric manager", service="nvidia-fabricmanager", running=True, enabled=True)
    if nvidia.dcgm_package:
        pinned_packages(name="DCGM", packages=[nvidia.dcgm_package], nvidia=nvidia)
        systemd.service(name="DCGM", service="nvidia-dcgm", running=True, enabled=True)
