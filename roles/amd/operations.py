"""amd: ROCm from AMD's amdgpu-install package, the amdgpu DKMS driver, and a kernel booted with iommu=pt.

The ROCm release the catalog pins decides the installer package; from ROCm 7 the kernel driver
(amdgpu-dkms) comes first and the userspace (rocm) after, both held (apt) or locked (dnf) so
unattended upgrades cannot split them. The boot must carry iommu=pt (multi-GPU systems hang
without it): a GRUB drop-in (grubby on RHEL) adds it, and the reboot it needs is done only
when the host data allows it.
"""

from __future__ import annotations

from io import StringIO
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.server import KernelVersion
from pyinfra.operations import files, server

from glmstack.facts import AmdgpuDriver, AptHeldPackages, DnfVersionLocks, FindInFile
from glmstack.ops import distribution, ensure_packages, install_step, installed_packages, package_family
from glmstack.os_packages import package_step
from glmstack.quoting import sed_substitution, shell_word
from glmstack.templating import role_templates
from glmstack.vendor_keys import deb_keys_check, rpm_key_import, rpm_signature_check
from roles.base.operations import BUNDLE_SOURCES_DIR
from roles.dkms import check_secure_boot, once_per_content, reboot_or_stop
from roles.vendor_plan import vendor_base

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan
    from roles.amd.plan import AmdPlan

# What the role writes to a host: templates/ in its folder.
_templates = role_templates(__file__)
GRUB_DROP_IN = "/etc/default/grub.d/glmstack-amd.cfg"
# Where amdgpu-install writes the amdgpu and rocm package sources.
SOURCES_GLOB = {"deb": "/etc/apt/sources.list.d/amdgpu*.list /etc/apt/sources.list.d/rocm*.list",
                "rpm": "/etc/yum.repos.d/amdgpu*.repo /etc/yum.repos.d/rocm*.repo"}
# Their copies where apt reads a bundle's sources only.
BUNDLE_AMD_SOURCES = ("amdgpu*.list", "rocm*.list")
LIBRARY_CONFIG = "/etc/ld.so.conf.d/glmstack-rocm.conf"
# The groups whose device nodes (/dev/kfd, /dev/dri/renderD*) ROCm opens.
DEVICE_GROUPS = ["render", "video"]


def installer_codename(plan: DeployPlan) -> str:
    """The Ubuntu release whose amdgpu-install package this host takes (Debian 12: jammy)."""
    release = distribution()
    key = f"{release.get('release_meta', {}).get('ID', '')}-{release.get('release_meta', {}).get('VERSION_ID', '')}"
    codenames = dict(plan.amd.platform.repository.codenames)
    if key not in codenames:
        raise DeployError(f"host {host.name}: AMD's amdgpu-install has no package for {key}; "
                          f"supported: {', '.join(sorted(codenames))}")
    return codenames[key]


def repo_base(amd: AmdPlan) -> str:
    """AMD's tree for this host: repo.radeon.com, the host data's mirror, or the bundle's partial
    mirror of this host's package family (the same paths below each)."""
    return vendor_base(amd.repo_url, amd.bundle_url, "amd", package_family())


def installer_url(plan: DeployPlan) -> str:
    amd = plan.amd
    repository, version, base = amd.platform.repository, amd.release.package_version, repo_base(plan.amd)
    if package_family() == "rpm":
        return repository.installer_rpm.format(base=base, rocm=amd.rocm, package_version=version)
    return repository.installer_deb.format(base=base, rocm=amd.rocm, codename=installer_codename(plan),
                                           package_version=version)


def grub_drop_in(amd: AmdPlan) -> str:
    """A shell file grub-mkconfig sources: each parameter a plain word inside its double quotes."""
    return _templates.get_template("grub-amd.cfg.j2").render(amd=amd)


def library_config(amd: AmdPlan) -> str:
    """ld.so.conf.d: one directory a line."""
    return _templates.get_template("rocm-ld.so.conf.j2").render(amd=amd)


def preflight(plan: DeployPlan) -> None:
    """Stop before any change where the ROCm install cannot work."""
    if package_family() == "deb":
        installer_codename(plan)
    if host.get_fact(AmdgpuDriver)["installed"] is None:
        check_secure_boot("amdgpu")


@operation()
def install_installer(plan: DeployPlan):
    """AMD's amdgpu-install package of the pinned ROCm release: it adds the amdgpu and rocm sources."""
    version = installed_packages().get("amdgpu-install") or []
    if any(str(v).split(":")[-1].startswith(plan.amd.release.package_version) for v in version):
        host.noop(f"amdgpu-install {plan.amd.release.package_version} is installed")
        return
    amd = plan.amd
    if package_family() == "rpm":
        # dnf does not check the signature of a package given by URL: import ROCm's key (its
        # fingerprint checked), then check the package with it before installing.
        rpm = "/tmp/glmstack-amdgpu-install.rpm"
        repository = amd.platform.repository
        yield rpm_key_import(amd.key_url(repo_base(amd)), repository.key_fingerprint, repository.rpm_key_file, "AMD")
        yield (f"curl -fsSL --retry 3 -o {rpm} {shell_word(installer_url(plan))} && "
               f"{{ {rpm_signature_check(rpm, 'AMD')}; }} && dnf install -y {rpm} && rm -f {rpm}")
        return
    deb = "/tmp/glmstack-amdgpu-install.deb"
    yield (f"curl -fsSL --retry 3 -o {deb} {shell_word(installer_url(plan))} && "
           f"{{ {deb_keys_check(deb, amd.platform.repository.key_fingerprint, 'AMD')}; }} && "
           "{ apt-mark unhold amdgpu-install >/dev/null 2>&1 || true; } && "
           f"dpkg -i {deb} && rm -f {deb}")


@operation()
def sources_on_mirror(amd: AmdPlan):
    """The apt sources amdgpu-install writes name AMD's host: point them at the mirror the host data gives."""
    base = repo_base(amd)
    if base == amd.upstream_url:
        host.noop("AMD's own repository is used")
        return
    sources = SOURCES_GLOB[package_family()]
    if not host.get_fact(FindInFile, path=sources, pattern=amd.upstream_url):
        host.noop(f"AMD's package sources point at {base}")
        return
    # The sources' glob stays unquoted (the shell expands it); the URLs are literal text to sed.
    setting = "bundle" if amd.bundle_url else "amd_repo_url"
    yield f"sed -i {sed_substitution(amd.upstream_url, base, setting)} {sources}"


@operation()
def sources_for_bundle(amd: AmdPlan):
    """With a bundle apt reads only the bundle's sources directory (roles/base): AMD's sources, on the
    bundle's copy of its repositories by now, are listed there too (still signed-by ROCm's key; their
    lists are as old as the bundle, so not checked for Valid-Until, as the bundle's own)."""
    base = repo_base(amd)
    wanted = " ".join(f"{BUNDLE_SOURCES_DIR}/{name}" for name in BUNDLE_AMD_SOURCES)
    if host.get_fact(FindInFile, path=wanted, pattern=base):
        host.noop(f"the bundle's apt sources list AMD's repositories at {base}")
        return
    yield (f"mkdir -p {BUNDLE_SOURCES_DIR} && for f in {SOURCES_GLOB['deb']}; do "
           "[ -f \"$f\" ] && sed -E -e 's/^deb \\[/deb [check-valid-until=no /' "
           "-e 's/^deb ([^[])/deb [check-valid-until=no] \\1/' "
           f'"$f" > {BUNDLE_SOURCES_DIR}/"$(basename "$f")"; done; true')


@operation()
def hold(packages: list[str]):
    """Holds (apt) or version locks (dnf), so unattended upgrades cannot split driver and userspace."""
    rpm = package_family() == "rpm"
    held = host.get_fact(DnfVersionLocks) if rpm else host.get_fact(AptHeldPackages)
    missing = [p for p in packages if p not in held]
    if not missing:
        host.noop(f"{', '.join(packages)} held")
        return
    names = " ".join(shell_word(p) for p in missing)
    yield f"dnf versionlock add {names}" if rpm else f"apt-mark hold {names}"


def _needs_reboot(amd: AmdPlan, driver: dict) -> str | None:
    missing = [p for p in amd.platform.kernel_parameters if p not in driver["cmdline"]]
    if missing:
        return f"the running kernel was booted without {' '.join(missing)}"
    if driver["loaded"] is not None and driver["installed"] is not None and driver["loaded"] != driver["installed"]:
        return f"amdgpu {driver['installed']} is installed but {driver['loaded']} is loaded"
    return None


@operation()
def run_installed_driver(amd: AmdPlan):
    """Make the running kernel use the installed amdgpu with iommu=pt: load it, reboot, or stop."""
    driver = host.get_fact(AmdgpuDriver)
    reason = _needs_reboot(amd, driver)
    if reason is None and driver["loaded"] is not None:
        host.noop(f"amdgpu {driver['loaded']} is loaded, booted with {' '.join(amd.platform.kernel_parameters)}")
        return
    if reason is None:
        yield "modprobe amdgpu"
        return
    yield from reboot_or_stop(reason, amd.allow_reboot, amd.reboot_timeout, "amd_allow_reboot")


@deploy("glmstack amd")
def install_amd(plan: DeployPlan) -> None:
    amd = plan.amd
    config = plan.config
    kernel = host.get_fact(KernelVersion)
    rpm = package_family() == "rpm"
    headers = package_step(plan, "amd-kernel")
    kernel_packages = headers.for_family(package_family(), kernel=kernel)
    if not rpm and distribution().get("name") != "Ubuntu":
        # linux-modules-extra is Ubuntu's split of the kernel's modules; Debian ships them in one package.
        kernel_packages = [p for p in kernel_packages if not p.startswith("linux-modules-extra")]
    install_step(package_step(plan, "amd-gnupg"))
    install_installer(name=f"amdgpu-install for ROCm {amd.rocm}", plan=plan)
    sources_on_mirror(name="AMD's package sources on the mirror", amd=amd)
    if amd.bundle_url and not rpm:
        sources_for_bundle(name="AMD's package sources in the bundle's", amd=amd)
    ensure_packages(headers.name, kernel_packages)
    install_step(package_step(plan, "amd-driver"))
    parameters = " ".join(amd.platform.kernel_parameters)
    if rpm:
        once_per_content(name=f"Boot with {parameters}", content=parameters,
                         command=f"grubby --update-kernel=ALL --args={shell_word(parameters)}",
                         stamp=f"{config.base_state_dir}/grubby-glmstack-amd.sha256")
    else:
        files.put(name=f"Boot with {parameters}", dest=GRUB_DROP_IN, src=StringIO(grub_drop_in(amd)), mode="644",
                  create_remote_dir=True)
        once_per_content(name="Update the boot loader", command="update-grub", content=grub_drop_in(amd),
                         stamp=f"{config.base_state_dir}/grub-glmstack-amd.sha256")
    if amd.release.split_driver:
        # ROCm 7: the driver runs before the userspace goes in.
        run_installed_driver(name="Run the installed amdgpu", amd=amd)
    install_step(package_step(plan, "amd-rocm"))
    if rpm:
        install_step(package_step(plan, "amd-versionlock"))
    hold(name="Hold amdgpu and ROCm", packages=list(amd.platform.held_packages))
    libraries = library_config(amd)
    files.put(name="ROCm library paths", dest=LIBRARY_CONFIG, src=StringIO(libraries), mode="644")
    once_per_content(name="Refresh the linker cache", command="ldconfig", content=libraries,
                     stamp=f"{config.base_state_dir}/ldconfig-glmstack-rocm.sha256")
    server.user(name="Service user in render and video", user=config.base_service_user,
                groups=DEVICE_GROUPS, append=True, ensure_home=False)
    if not amd.release.split_driver:
        run_installed_driver(name="Run the installed amdgpu", amd=amd)
