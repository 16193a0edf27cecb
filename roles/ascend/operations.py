"""ascend: the NPU driver, firmware and CANN from the operator's package set, in the order
Huawei's installers need, each installed only where the version its installer left differs.

Order (INSTALL_FACTS section 3): on a machine without the driver, driver then firmware (both
--full); on an upgrade, firmware first, then the driver (--upgrade). A reboot follows, then the
CANN toolkit, the chip's operator package and NNAL. Every installer a run needs is on the host and
matches the manifest's sha256 before the first one runs, so a missing or corrupted package stops
the run with nothing installed. CANN's environment scripts are run once here and what they set is
written into the engine unit's environment, so nothing sources them at every start.

Between nodes HCCL runs over each NPU's own RoCE port: where the host data gives their addresses
(every node of a multi-node deployment must), hccn_tool sets those that differ once the driver
runs, before the engine starts.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FileContents
from pyinfra.facts.server import Arch
from pyinfra.operations import files, server

from glmstack.facts import AscendVersions, BootId, CannEnvironment, NpuRoceAddresses, cann_environment_command
from glmstack.ops import CURL_DOWNLOAD, install_step
from glmstack.os_packages import package_step
from glmstack.quoting import shell_word
from roles.dkms import reboot_or_stop
from roles.service.render import unit_paths
from roles.service.units import serving_unit_spec

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan
    from roles.ascend.plan import AscendPackagePlan, AscendPlan



def preflight(plan: DeployPlan) -> None:
    """Stop before any change where the package set cannot be installed here."""
    ascend = plan.ascend
    if ascend.source is None:
        raise DeployError(
            f"host {host.name}: field ascend_packages: Ascend's driver, firmware and CANN installers are "
            "login-gated downloads, so glmstack installs them from your package set: give the directory on this "
            "machine or the http(s) mirror holding them, with its manifest (docs/ascend.md). Nothing was changed.")
    arch = host.get_fact(Arch)
    if arch != ascend.arch:
        raise DeployError(f"host {host.name}: field ascend_packages: the package set's installers are built for "
                          f"{ascend.arch}; this host is {arch}. Nothing was changed.")


def installed_versions(ascend: AscendPlan) -> dict[str, str | None]:
    return host.get_fact(AscendVersions, components=[(p.component, list(p.version_files), p.installer.version_key)
                                                     for p in ascend.packages])


def install_steps(ascend: AscendPlan, installed: dict[str, str | None]) -> list[tuple[AscendPackagePlan, str]]:
    """(package, "fresh" or "upgrade") for what differs, in the order the installers need."""
    def mode(package: AscendPackagePlan) -> str | None:
        have = installed.get(package.component)
        return None if have == package.version else "fresh" if have is None else "upgrade"

    driver, firmware = ascend.package("driver"), ascend.package("firmware")
    # A first install puts the driver in before the firmware; an upgrade the firmware first.
    order = [driver, firmware] if mode(driver) == "fresh" else [firmware, driver]
    order += [p for p in ascend.packages if p.component not in ("driver", "firmware")]
    return [(package, mode(package)) for package in order if mode(package)]


def staged(ascend: AscendPlan, package: AscendPackagePlan) -> str:
    return posixpath.join(ascend.staging_dir, package.file)


@operation()
def fetch_installers(ascend: AscendPlan, packages: list[AscendPackagePlan]):
    """Download the installers this run needs from the mirror (resuming what an earlier run left)."""
    q = shell_word
    yield f"mkdir -p {q(ascend.staging_dir)} && chmod 700 {q(ascend.staging_dir)}"
    for package in packages:
        target = q(staged(ascend, package))
        url = q(f"{ascend.source}/{package.file}")
        yield (f"{CURL_DOWNLOAD} --continue-at - -o {target} {url} || "
               f"{{ rm -f {target}; {CURL_DOWNLOAD} -o {target} {url}; }} || "
               f"{{ echo {q(f'{package.file}: could not be fetched from {ascend.source}; nothing was installed')} >&2; "
               "exit 1; }")


@operation()
def check_installers(ascend: AscendPlan, packages: list[AscendPackagePlan]):
    """Every installer this run needs matches the manifest's sha256, before any of them runs."""
    checks = []
    for package in packages:
        path = shell_word(staged(ascend, package))
        failed = f"{package.file}: its sha256 is not the manifest's (removed); nothing was installed"
        sha256 = shell_word(package.manifest.sha256)
        checks.append(f"if [ \"$(sha256sum < {path} | cut -d' ' -f1)\" != {sha256} ]; then "
                      f"rm -f {path}; echo {shell_word(failed)} >&2; bad=1; fi")
    yield "bad=; " + "; ".join(checks) + "; [ -z \"$bad\" ]"


def version_command(package: AscendPackagePlan) -> str:
    """The version the installer left, as AscendVersions reads it."""
    return AscendVersions().command([(package.component, list(package.version_files),
                                      package.installer.version_key)])


@operation()
def run_installer(ascend: AscendPlan, package: AscendPackagePlan, mode: str):
    """Run one installer, then check the version it left; its staged copy goes once it is in."""
    q = shell_word
    path = staged(ascend, package)
    arguments = " ".join(q(a) for a in (package.installer.fresh if mode == "fresh" else package.installer.upgrade))
    yield (f"chmod 700 {q(path)} && {q(path)} {arguments} && "
           f"got=$({version_command(package)} | cut -d= -f2-) && "
           f"if [ \"$got\" != {q(package.version)} ]; then "
           f"echo {q(f'{package.file} ran, but the {package.component}' + chr(39) + 's version files say ')}"
           f"\"${{got:-nothing}}\"{q(f'; expected {package.version}')} >&2; "
           f"exit 1; fi && rm -f {q(path)}")


@operation()
def run_installed_driver(ascend: AscendPlan, installed_now: bool):
    """After a driver or firmware install: reboot (or stop) once, then see the NPUs answer."""
    stamp = shell_word(ascend.reboot_stamp)
    recorded = host.get_fact(FileContents, path=ascend.reboot_stamp)
    boot = host.get_fact(BootId)
    if not installed_now and not recorded:
        host.noop("no driver or firmware install waits for a reboot")
        return
    if installed_now or recorded == [boot]:
        # Recorded first, so a run that stops here knows at its next start that the reboot is due.
        directory = shell_word(posixpath.dirname(ascend.reboot_stamp))
        yield f"mkdir -p {directory} && cat /proc/sys/kernel/random/boot_id > {stamp}"
        yield from reboot_or_stop("the NPU driver or firmware was installed", ascend.allow_reboot,
                                  ascend.reboot_timeout, "ascend_allow_reboot")
    yield f"rm -f {stamp} && npu-smi info >/dev/null"


def cann_environment_file(plan: DeployPlan) -> str:
    return unit_paths(serving_unit_spec(plan))["cann_env_file"]


@operation()
def capture_cann_environment(plan: DeployPlan, cann_installed_now: bool):
    """Write what CANN's scripts set into the engine's environment file, once per content."""
    ascend = plan.ascend
    arguments = {"scripts": [list(group) for group in ascend.set_env], "base_path": plan.serve_env["PATH"],
                 "patterns": list(ascend.platform.environment_variables)}
    captured = host.get_fact(CannEnvironment, **arguments)
    path = cann_environment_file(plan)
    if captured and not cann_installed_now and host.get_fact(FileContents, path=path) == captured:
        host.noop("the engine's CANN environment is current")
        return
    q = shell_word
    scripts = " ".join(script for group in ascend.set_env for script in group)
    missing = f"none of CANN's environment scripts was found: {scripts}"
    yield (f"{{ {cann_environment_command(**arguments)}; }} > {q(path)}.new && "
           f"if [ ! -s {q(path)}.new ]; then echo {q(missing)} >&2; "
           f"exit 1; fi && chmod 644 {q(path)}.new && mv {q(path)}.new {q(path)}")


def install_packages(plan: DeployPlan) -> list[AscendPackagePlan]:
    """The user, then the installers that differ, verified before any runs. Returns the packages
    installed."""
    ascend = plan.ascend
    server.group(name=f"{ascend.group} group", group=ascend.group)
    server.user(name=f"{ascend.user} user (the installers need it)", user=ascend.user, group=ascend.group,
                home=ascend.home, shell="/bin/bash", ensure_home=True)
    steps = install_steps(ascend, installed_versions(ascend))
    needed = [package for package, _ in steps]
    if needed:
        if not ascend.local:
            install_step(package_step(plan, "ascend-curl"))
        if ascend.local:
            for package in needed:
                files.put(name=f"Upload {package.file}", src=posixpath.join(ascend.source, package.file),
                          dest=staged(ascend, package), mode="700", create_remote_dir=True)
        else:
            fetch_installers(name="Fetch the Ascend installers", ascend=ascend, packages=needed)
        check_installers(name="Check the Ascend installers against the manifest", ascend=ascend, packages=needed)
    for package, mode in steps:
        run_installer(name=f"Install {package.component} {package.version} ({mode})", ascend=ascend,
                      package=package, mode=mode)
    return needed


@deploy("glmstack ascend")
def install_ascend(plan: DeployPlan) -> bool:
    """Driver, firmware and CANN from the package set, the NPUs answering, and CANN's environment for
    the engine. True when that environment was written anew (the engine restarts)."""
    ascend = plan.ascend
    installed = install_packages(plan)
    run_installed_driver(name="Run the installed NPU driver", ascend=ascend,
                         installed_now=any(package.installer.needs_reboot for package in installed))
    server.user(name=f"Service user in {ascend.group}", user=plan.config.base_service_user,
                groups=[ascend.group], append=True, ensure_home=False)
    return capture_cann_environment(name="CANN environment for the engine", plan=plan,
                                    cann_installed_now=any(package.cann for package in installed)).will_change


def roce_changes(ascend: AscendPlan, current: list[dict[str, str] | None]) -> list[tuple[int, str]]:
    """(NPU, address) for each port whose address or netmask is not the host data's, NPU 0 first."""
    wanted = [{"address": address, "netmask": ascend.roce_netmask} for address in ascend.roce_addresses]
    current = (list(current) + [None] * len(wanted))[:len(wanted)]
    return [(npu, want["address"]) for npu, (want, have) in enumerate(zip(wanted, current, strict=True))
            if have != want]


@operation()
def set_roce_addresses(ascend: AscendPlan):
    """Give each NPU's RoCE port its address and netmask with hccn_tool, only where they differ,
    and read each back (hccn_tool -ip -g) before going on."""
    current = host.get_fact(NpuRoceAddresses, hccn_tool=ascend.platform.roce.hccn_tool, npus=ascend.npus)
    changes = roce_changes(ascend, current)
    if not changes:
        host.noop("every NPU's RoCE port has its address")
        return
    q = shell_word
    tool, netmask = q(ascend.platform.roce.hccn_tool), q(ascend.roce_netmask)
    for npu, address in changes:
        shown = address.replace(".", r"\.")
        failed = f"NPU {npu}: hccn_tool did not give its RoCE port {address} netmask {ascend.roce_netmask}"
        yield (f"{tool} -i {npu} -ip -s address {q(address)} netmask {netmask} && "
               f"{tool} -i {npu} -ip -g | grep -Eq {q(f'ipaddr[[:space:]]*:[[:space:]]*{shown}([^0-9]|$)')} || "
               f"{{ echo {q(failed)} >&2; exit 1; }}")


@deploy("glmstack ascend")
def configure_roce(plan: DeployPlan) -> bool:
    """The NPUs' RoCE addresses the host data gives, after the driver runs (none given: nothing).
    True when one was set anew: a running engine's HCCL links used the old one, so it restarts."""
    if plan.ascend is None or not plan.ascend.roce_addresses:
        return False
    return set_roce_addresses(name="NPU RoCE addresses (hccn_tool)", ascend=plan.ascend).will_change
