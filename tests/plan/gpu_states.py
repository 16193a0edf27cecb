"""GPU hosts (NVIDIA, AMD) in each state the plan tests need, as fact answers for @fake.

No GPU machine was available to capture from, so these are built, not captured: the OS
underneath is the lab node captured in facts/ (Debian 12), and each GPU answer is what the
fact's command prints on such a host, in the formats the facts' own fixtures pin down
(tests/facts/NvidiaDriver, AmdgpuDriver, SecureBoot, AptHeldPackages, PciDevices, ...).
Ubuntu, RHEL and GH200 variants change the os-release, `uname -r` and `uname -m` answers.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from pathlib import Path

from glmstack.config import DeployPlan, resolve
from glmstack.render import FINGERPRINT_VARIABLE, deployed_fingerprint, rendered_files, unit_paths
from roles.engine import marker_path
from roles.model import (
    VERIFY_HUB,
    fetch_script,
    graft_script,
    graft_script_path,
    ready_marker,
    share_unit,
    share_unit_text,
    verify_hub_script,
    weights_parts,
    weights_script,
    weights_unit,
    weights_unit_text,
)
from roles.nvidia import DRACUT_CONFIG, DRACUT_OMIT, NOUVEAU_BLACKLIST, NOUVEAU_CONFIG, PREFERENCES_FILE, preferences
from roles.service import API_KEY_ID_VARIABLE

FACTS = Path(__file__).resolve().parent / "facts"
STAT = "stat -c 'user=%U group=%G mode=%A atime=%X mtime=%Y ctime=%Z size=%s %N'"
KERNEL = "6.1.0-28-amd64"
RHEL_KERNEL = "5.14.0-427.13.1.el9_4.x86_64"
OLD_DRIVER = "570.172.08"


def captured(name: str) -> dict:
    return json.loads((FACTS / f"{name}.json").read_text())["responses"]


def os_release(os_id: str, version: str, pretty: str) -> list[str]:
    return ["/etc/os-release", f'NAME="{pretty.split()[0]}"', f'ID={os_id}', f'VERSION_ID="{version}"',
            f'PRETTY_NAME="{pretty}"', "---"]


UBUNTU_2404 = os_release("ubuntu", "24.04", "Ubuntu 24.04.3 LTS")
UBUNTU_2204 = os_release("ubuntu", "22.04", "Ubuntu 22.04.5 LTS")
RHEL_9 = os_release("rhel", "9.4", "Red Hat Enterprise Linux 9.4 (Plow)")


def pci_listing(gpus: int, device: str, nvswitches: int) -> list[str]:
    """GPUs (3D controller 0302) and NVSwitches (bridge 0680), as /sys/bus/pci lists them."""
    return ([f"0000:{0x18 + i:02x}:00.0 0x030200 0x10de 0x{device}" for i in range(gpus)]
            + [f"0000:{0x80 + i:02x}:00.0 0x068000 0x10de 0x22a3" for i in range(nvswitches)])


# What `rpm -qa` lists on a minimal RHEL 9.4 beside what the deploy installs (constructed).
RHEL_BASE_RPMS = [("ca-certificates", "2024.2.69_v8.0.303-91.4.el9_4"), ("curl", "7.76.1-29.el9_4"),
                  ("coreutils", "8.32-35.el9"), ("openssl", "3.0.7-27.el9"), ("tar", "1.34-6.el9_4"),
                  ("gzip", "1.12-1.el9"), ("chrony", "4.5-1.el9"), ("python3", "3.9.18-3.el9_4.5"),
                  ("dnf", "4.14.0-9.el9"), ("gnupg2", "2.3.3-4.el9")]
RHEL_REPOSITORIES = ["rhel-9-for-x86_64-appstream-rpms", "rhel-9-for-x86_64-baseos-rpms"]

HARDWARE = {  # accelerator -> (GPUs, PCI device id, NVSwitches)
    "h200": (8, "2335", 4),
    "h100": (8, "2330", 4),
    "h20": (8, "2329", 4),
    "b200": (8, "2901", 2),
    "gh200": (2, "2342", 0),
}


# What WeightsState reads back over the files a finished fetch verified (any 64 hex digits).
WEIGHTS_SIGNATURE = "5" * 64


class ConstructedHost:
    """Fact answers for one host; methods move it between states."""

    def __init__(self, data: dict, pci: list[str], plan: DeployPlan | None = None):
        self.data = data
        # As tests/plan/fakehost.py deploys it: the gateway off unless the data turns it on.
        self.plan: DeployPlan = plan or resolve("@fake/node1", {"gateway_enabled": False, **data})
        self.overrides: dict[str, object] = {
            "for d in /sys/bus/pci/devices/*": pci,
            "uname -r": [KERNEL],
            "SecureBoot-8be4df61": ["enabled=   0"],
            "apt-mark showhold": [],
        }
        self.extra_packages: list[tuple[str, str]] = []
        self.base = captured("debian12-fresh")
        self.family = "deb"

    # -- building blocks --

    def answer(self, fragment: str, stdout, success: bool = True):
        self.overrides[fragment] = {"stdout": stdout, "stderr": [], "success": success}
        return self

    def os(self, release: list[str], arch: str = "x86_64") -> NvidiaHost:
        self.answer("*-release", release)
        return self.answer("uname -m", [arch])

    def secure_boot(self, enabled: bool, key_enrolled: bool = False) -> NvidiaHost:
        return self.answer("SecureBoot-8be4df61",
                           [f"enabled=   {int(enabled)}", *(["enrolled=yes"] if key_enrolled else [])])

    def packages(self, *name_versions: tuple[str, str]) -> NvidiaHost:
        self.extra_packages += name_versions
        return self

    def held(self, *names: str) -> NvidiaHost:
        return self.answer("apt-mark showhold", sorted(names))

    def file(self, path: str, content: str, mode: str, user: str = "root", group: str = "root") -> NvidiaHost:
        digest = hashlib.sha1(content.encode()).hexdigest()
        self.answer(f"{STAT} {path} 2>", [f"user={user} group={group} mode={mode} atime=1795335053 "
                                          f"mtime=1795335053 ctime=1795335053 size={len(content)} '{path}'"])
        return self.answer(f"sha1sum {path} 2>", [f"{digest}  {path}"])

    def directory(self, path: str, mode: str = "drwxr-xr-x", user: str = "root", group: str = "root") -> NvidiaHost:
        return self.answer(f"{STAT} {path} 2>", [f"user={user} group={group} mode={mode} atime=1 mtime=1 ctime=1 "
                                                 f"size=4096 '{path}'"])

    def contents(self, path: str, *lines: str) -> NvidiaHost:
        return self.answer(f"cat {path}", list(lines))

    def unit(self, name: str, running: bool = True, enabled: bool = True) -> NvidiaHost:
        self.answer(f"--property SubState {name}.service",
                    [f"Id={name}.service", f"SubState={'running' if running else 'dead'}"])
        return self.answer(f"--property UnitFileState {name}.service",
                           [f"Id={name}.service", f"UnitFileState={'enabled' if enabled else 'disabled'}"])

    def rhel(self, epel: bool = True, crb: bool = True) -> ConstructedHost:
        """RHEL 9.4 (dnf) instead of the captured Debian underneath."""
        self.family = "rpm"
        self.os(RHEL_9)
        self.answer("uname -r", [RHEL_KERNEL])
        repositories = [*RHEL_REPOSITORIES, *(["epel"] if epel else []),
                        *(["codeready-builder-for-rhel-9-x86_64-rpms"] if crb else [])]
        self.answer("dnf repolist --enabled -q", ["repo id  repo name", *(f"{r}  {r}" for r in repositories)])
        self.answer("dnf module list --enabled", [])
        return self.answer("versionlock.list", [])

    def locks(self, *name_versions: tuple[str, str]) -> ConstructedHost:
        return self.answer("versionlock.list", [f"{name}-{version}.*" for name, version in name_versions])

    def engine_converged(self, services: tuple[str, ...]) -> None:
        """The engine's environment, weights, unit and service in place and healthy."""
        plan = self.plan
        self.base = captured("debian12-converged")
        self.contents(marker_path(plan.engine_env), plan.engine_env.install_key)
        self.directory(posixpath.dirname(weights_script(plan)))
        for part in weights_parts(plan):
            self.answer(f"cat {ready_marker(part)} 2>/dev/null; echo ---",
                        [part.model.fingerprint, "---", WEIGHTS_SIGNATURE, "---", WEIGHTS_SIGNATURE])
            self.file(weights_script(part), fetch_script(part), "-rwxr-x---", group="glmstack")
            self.file(f"/etc/systemd/system/{weights_unit(part)}", weights_unit_text(part), "-rw-r--r--")
            if part.model.kind in ("hf", "modelscope"):
                self.file(verify_hub_script(part), VERIFY_HUB.read_text(), "-rw-r--r--")
        if plan.model.graft is not None:
            self.answer(f"cat {ready_marker(plan)} 2>/dev/null; echo ---",
                        [plan.model.fingerprint, "---", WEIGHTS_SIGNATURE, "---", WEIGHTS_SIGNATURE])
            self.file(graft_script_path(plan), graft_script(plan), "-rwx------")
        for path, (content, mode) in rendered_files(plan).items():
            self.file(path, content, "-rw-------" if mode == "600" else "-rw-r--r--")
        self.directory(unit_paths(plan)["home"], "drwx------", "glmstack", "glmstack")
        for service in (*services, plan.unit_name):
            self.unit(service)
        self.answer(f'"^"{FINGERPRINT_VARIABLE}=', ["running", f"{FINGERPRINT_VARIABLE}={deployed_fingerprint(plan)}"])
        if plan.api_key:
            key_id = "9f86d081884c7d65"  # as ApiKeyState and the running engine report it
            self.answer(f"[ -s {plan.api_key.key_file} ]", [key_id, "current"])
            self.answer(f'"^"{API_KEY_ID_VARIABLE}=', ["running", f"{API_KEY_ID_VARIABLE}={key_id}"])
        self.answer(f"--property NeedDaemonReload --value {plan.unit_name}.service", ["no"])
        self.answer(f"--write-out '%{{http_code}}' {plan.health_url}", ["200"])

    def responses(self) -> dict:
        base = dict(self.base)
        dpkg = next(command for command in base if "dpkg -l" in command)
        listing = list(base[dpkg]["stdout"]) + [f"ii  {name}  {version}  amd64  (constructed)"
                                                for name, version in self.extra_packages]
        overrides = dict(self.overrides)
        if self.family == "rpm":
            rpms = [f"{name} {version}" for name, version in [*RHEL_BASE_RPMS, *self.extra_packages]]
            overrides.setdefault("rpm --queryformat", {"stdout": rpms, "stderr": [], "success": True})
        overrides.setdefault("dpkg -l", {"stdout": listing, "stderr": [], "success": True})
        # Answers given here win over the captured ones (the fake takes the first match).
        for command, response in base.items():
            overrides.setdefault(command, response)
        return overrides


class NvidiaHost(ConstructedHost):
    def __init__(self, data: dict, plan: DeployPlan | None = None):
        gpus, device, nvswitches = HARDWARE[data["accelerator"]]
        super().__init__(data, pci_listing(gpus, device, nvswitches), plan)
        self.driver(None, None)
        self.answer("grep -rhsE '^(Components:|deb )'", ["no"])

    def driver(self, loaded: str | None, installed: str | None, nouveau: bool = False) -> NvidiaHost:
        return self.answer("cat /sys/module/nvidia/version",
                           [f"loaded={loaded or ''}", f"installed={installed or ''}",
                            f"nouveau={'yes' if nouveau else ''}"])

    # -- whole states --

    def converged(self) -> NvidiaHost:
        """Everything this deploy installs is in place, held, loaded and running."""
        nvidia = self.plan.nvidia
        self.engine_converged(("nvidia-persistenced", "nvidia-fabricmanager"))
        if self.family == "rpm":
            self._converged_rpm()
        else:
            self._converged_deb()
        self.driver(nvidia.driver_version, nvidia.driver_version)
        for directory in ("/etc/apt/sources.list.d", "/etc/apt/preferences.d", "/etc/modprobe.d"):
            self.directory(directory)
        return self

    def _converged_deb(self) -> None:
        plan, nvidia = self.plan, self.plan.nvidia
        version = f"{nvidia.driver_version}-1"
        pinned = [*nvidia.driver_packages, *nvidia.fabricmanager_packages]
        if nvidia.nvlink5:
            pinned += nvidia.nvlink5_packages
        for package in pinned:
            self.packages((package, version if not package.startswith("nvlsm") else "2025.06.5-1"))
        self.packages((nvidia.toolkit_package, "13.0.2-1"), ("cuda-keyring", "1.1-1"),
                      (f"linux-headers-{KERNEL}", "6.1.119-1"), *((p, "1") for p in nvidia.build_packages),
                      *((p, "1") for p in plan.engine_env.system_packages))
        self.held(*pinned, nvidia.toolkit_package)
        self.answer("grep -rhsE '^(Components:|deb )'", ["yes"])
        url = f"{nvidia.repo_url}/debian12/x86_64"
        self.file("/etc/apt/sources.list.d/cuda-debian12-x86_64.list",
                  f"deb [signed-by={nvidia.keyring_file}] {url}/ /\n", "-rw-r--r--")
        self.file(PREFERENCES_FILE, preferences(nvidia), "-rw-r--r--")
        self.file(NOUVEAU_BLACKLIST, NOUVEAU_CONFIG, "-rw-r--r--")
        self.contents(f"{plan.config.base_state_dir}/initramfs-glmstack-blacklist-nouveau.conf.sha256",
                      hashlib.sha256(NOUVEAU_CONFIG.encode()).hexdigest())

    def _converged_rpm(self) -> None:
        plan, nvidia = self.plan, self.plan.nvidia
        version = f"{nvidia.driver_version}-1.el9"
        pinned = [*nvidia.rpm_driver_packages, *nvidia.rpm_fabricmanager_packages]
        for package in pinned:
            self.packages((package, version))
        self.packages((nvidia.toolkit_package, "13.0.2-1"), (f"kernel-devel-{RHEL_KERNEL}", "1"),
                      ("kernel-headers", "5.14.0-427.13.1.el9_4"), ("dkms", "3.1.5-1.el9"),
                      (nvidia.rpm_versionlock_package, "4.3.0-16.el9"), ("python3.12", "3.12.1-4.el9"),
                      ("python3.12-devel", "3.12.1-4.el9"), ("gcc", "11.4.1-3.el9"), ("gcc-c++", "11.4.1-3.el9"),
                      ("make", "4.3-8.el9"), ("numactl", "2.0.16-3.el9"))
        self.locks(*((p, f"{nvidia.driver_version}-1.el9") for p in pinned), (nvidia.toolkit_package, "13.0.2-1"))
        self.answer("dnf module list --enabled", ["Name  Stream  Profiles  Summary",
                                                  f"nvidia-driver  {nvidia.rpm_module_stream} [e]  default [d]  "
                                                  "Nvidia driver for open-dkms branch"])
        url = f"{nvidia.repo_url}/rhel9/x86_64"
        self.file("/etc/yum.repos.d/cuda-rhel9-x86_64.repo",
                  f"[cuda-rhel9-x86_64]\nname=cuda-rhel9-x86_64\nbaseurl={url}\nenabled=1\ngpgcheck=1\n"
                  f"gpgkey=file://{nvidia.rpm_key_file}\n", "-rw-r--r--")
        self.answer(f"sha256sum {nvidia.rpm_key_file} 2>", [f"{nvidia.rpm_key_sha256}  {nvidia.rpm_key_file}"])
        self.file(NOUVEAU_BLACKLIST, NOUVEAU_CONFIG, "-rw-r--r--")
        self.file(DRACUT_OMIT, DRACUT_CONFIG, "-rw-r--r--")
        for directory in ("/etc/yum.repos.d", "/etc/dracut.conf.d"):
            self.directory(directory)
        self.contents(f"{plan.config.base_state_dir}/initramfs-glmstack-blacklist-nouveau.conf.sha256",
                      hashlib.sha256((NOUVEAU_CONFIG + DRACUT_CONFIG).encode()).hexdigest())


# MI300X: 1002:74a1 processing accelerators (class 1200); MI355X: 1002:75a3.
AMD_HARDWARE = {"mi300x": (8, "74a1"), "mi355x": (8, "75a3")}
UBUNTU_KERNEL = "6.8.0-60-generic"
AMD_CMDLINE = f"BOOT_IMAGE=/vmlinuz-{UBUNTU_KERNEL} root=/dev/mapper/vg-root ro quiet splash"


class AmdHost(ConstructedHost):
    def __init__(self, data: dict, release: list[str] = UBUNTU_2404):
        gpus, device = AMD_HARDWARE[data["accelerator"]]
        super().__init__(data, [f"0000:{0x10 + i:02x}:00.0 0x120000 0x1002 0x{device}" for i in range(gpus)])
        if release is RHEL_9:
            self.rhel()
        else:
            self.os(release)
            self.answer("uname -r", [UBUNTU_KERNEL])
        self.amdgpu(None, None, iommu_pt=False)

    def amdgpu(self, loaded: str | None, installed: str | None, iommu_pt: bool = True) -> AmdHost:
        return self.answer("cat /sys/module/amdgpu/version",
                           [f"loaded={loaded or ''}", f"installed={installed or ''}",
                            f"cmdline={AMD_CMDLINE}{' iommu=pt' if iommu_pt else ''}"])

    def converged(self) -> AmdHost:
        """ROCm, amdgpu and the engine in place; booted with iommu=pt; the engine healthy."""
        from roles.amd import GRUB_DROP_IN, LIBRARY_CONFIG, grub_drop_in

        plan, amd = self.plan, self.plan.amd
        self.engine_converged(())
        if self.family == "rpm":
            self.packages(("amdgpu-install", f"{amd.package_version}.el9"), ("amdgpu-dkms", "6.12.12-2187215.el9"),
                          ("rocm", "7.2.1.70201-81.el9"), ("kernel-headers", "5.14.0-427.13.1.el9_4"),
                          (f"kernel-devel-{RHEL_KERNEL}", "1"), ("kernel-devel-matched", "5.14.0-427.13.1.el9_4"),
                          (amd.rpm_versionlock_package, "4.3.0-16.el9"),
                          *((p, "1") for p in ("python3.12", "python3.12-devel", "gcc", "gcc-c++", "make",
                                               "numactl", "git", "python3-setuptools", "python3-wheel")))
            self.locks(*((p, "7.2.1-1.el9") for p in amd.held_packages))
            parameters = " ".join(amd.kernel_parameters)
            self.contents(f"{plan.config.base_state_dir}/grubby-glmstack-amd.sha256",
                          hashlib.sha256(parameters.encode()).hexdigest())
        else:
            self.packages(("amdgpu-install", amd.package_version), ("amdgpu-dkms", "1:6.12.12.60402-2187215.24.04"),
                          ("rocm", "7.2.1.70201-81~24.04"), ("python3-setuptools", "68.1.2-2ubuntu1"),
                          ("python3-wheel", "0.42.0-2"), ("gnupg", "2.4.4-2ubuntu17"),
                          (f"linux-headers-{UBUNTU_KERNEL}", "6.8.0-60.63"),
                          (f"linux-modules-extra-{UBUNTU_KERNEL}", "6.8.0-60.63"),
                          *((p, "1") for p in plan.engine_env.system_packages))
            self.held(*amd.held_packages)
            self.file(GRUB_DROP_IN, grub_drop_in(amd), "-rw-r--r--")
            self.directory("/etc/default/grub.d")
            self.contents(f"{plan.config.base_state_dir}/grub-glmstack-amd.sha256",
                          hashlib.sha256(grub_drop_in(amd).encode()).hexdigest())
        self.amdgpu("6.12.12", "6.12.12")
        library_config = "".join(f"{path}\n" for path in amd.library_paths)
        self.file(LIBRARY_CONFIG, library_config, "-rw-r--r--")
        self.directory("/etc/ld.so.conf.d")
        self.contents(f"{plan.config.base_state_dir}/ldconfig-glmstack-rocm.sha256",
                      hashlib.sha256(library_config.encode()).hexdigest())
        # The service user already in render and video (`id -Gn` in the users fact).
        users = next(command for command in self.base if "cat /etc/passwd" in command)
        self.answer(users, [line.replace("|glmstack|glmstack|", "|glmstack|glmstack render video|")
                            for line in self.base[users]["stdout"]])
        return self


# Atlas 800 A3: sixteen 19e5:d803 processing accelerators (class 1200); A2: eight 19e5:d802.
ASCEND_HARDWARE = {"ascend-a3": (16, "d803"), "ascend-a2": (8, "d802")}
BOOT_ID = "4d1f3b0e-8a5c-4b8e-9f0e-2c6d1a7b9e3f"
CANN_ENVIRONMENT = ["ASCEND_TOOLKIT_HOME=/usr/local/Ascend/ascend-toolkit/latest",
                    "ATB_HOME_PATH=/usr/local/Ascend/nnal/atb/latest",
                    "LD_LIBRARY_PATH=/usr/local/Ascend/ascend-toolkit/latest/lib64:"]


class AscendHost(ConstructedHost):
    """Ubuntu 22.04 on aarch64 with the group's NPUs; Ascend's installers absent unless set."""

    def __init__(self, data: dict, plan: DeployPlan | None = None):
        npus, device = ASCEND_HARDWARE[data["accelerator"]]
        super().__init__(data, [f"0000:{0x10 + i:02x}:00.0 0x120000 0x19e5 0x{device}" for i in range(npus)], plan)
        self.os(UBUNTU_2204, arch="aarch64")
        self.answer("cat /proc/sys/kernel/random/boot_id", [BOOT_ID])
        self.versions()
        self.answer("env -i PATH=", [])  # no CANN environment scripts yet
        self.roce()  # no NPU port has an address

    def roce(self, *addresses: str | None, netmask: str = "255.255.255.0") -> AscendHost:
        """What `hccn_tool -i N -ip -g` shows for each NPU (None: no address); none given: the tool
        answers for no port (before the driver, or on a port never configured)."""
        lines = []
        for npu in range(self.plan.ascend.npus):
            address = addresses[npu] if npu < len(addresses) else None
            lines += [f"npu={npu}", *([f"ipaddr:{address}", f"netmask:{netmask}"] if address else
                                      [f"hccn_tool failed to get the ip address of device {npu}"])]
        return self.answer("-ip -g 2>&1 || true; done", lines)

    def versions(self, **versions: str) -> AscendHost:
        """What the installers' version files say (absent components: None)."""
        return self.answer("echo nnal=", [f"{package.component}={versions.get(package.component, '')}"
                                          for package in self.plan.ascend.packages])

    def reboot_pending(self, boot_id: str = BOOT_ID) -> AscendHost:
        return self.contents(self.plan.ascend.reboot_stamp, boot_id)

    def converged(self) -> AscendHost:
        """Driver, firmware and CANN at the package set's versions, the engine's CANN environment
        written, the service user in HwHiAiUser, the engine healthy."""
        from roles.ascend import cann_environment_file

        plan, ascend = self.plan, self.plan.ascend
        self.engine_converged(())
        # python3-venv for the ModelScope client's environment.
        self.packages(("python3-venv", "1"), *((p, "1") for p in plan.engine_env.system_packages))
        self.versions(**{package.component: package.version for package in ascend.packages})
        self.answer("env -i PATH=", CANN_ENVIRONMENT)
        self.contents(cann_environment_file(plan), *CANN_ENVIRONMENT)
        users = next(command for command in self.base if "cat /etc/passwd" in command)
        self.answer(users, [line.replace("|glmstack|glmstack|", "|glmstack|glmstack HwHiAiUser|")
                            for line in self.base[users]["stdout"]]
                    + [f"{ascend.user}:x:1001:1001::{ascend.home}:/bin/bash|{ascend.group}|{ascend.group}|"
                       f"{ascend.user} **Never logged in**|!"])
        groups = next(command for command in self.base if "cat /etc/group" in command)
        self.answer(groups, [*self.base[groups]["stdout"], f"{ascend.group}:x:1001:glmstack"])
        self.directory(ascend.home, "drwxr-x---", ascend.user, ascend.group)
        # The NPUs' RoCE ports as the host data gives them; on a deployment's nodes, its port filter
        # and (on the node passing the weights on) the sharing unit.
        self.roce(*ascend.roce_addresses, netmask=ascend.roce_netmask or "255.255.255.0")
        if plan.cluster_ports:
            self.packages(("nftables", "1"))
        if plan.weights_peers:
            self.file(f"/etc/systemd/system/{share_unit(plan)}", share_unit_text(plan), "-rw-r--r--")
        return self
