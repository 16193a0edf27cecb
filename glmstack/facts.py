"""Facts the roles read: each answers one question about a host."""

from __future__ import annotations

import re
import shlex

from pyinfra.api import FactBase


class ContainerVirtualization(FactBase):
    """
    The container technology this host runs in, or ``None`` on bare metal and in VMs.

    .. code:: python

        "systemd-nspawn"
    """

    requires_command = "systemd-detect-virt"

    def command(self) -> str:
        return "systemd-detect-virt --container || true"

    def process(self, output: list[str]) -> str | None:
        value = output[0].strip() if output else "none"
        return None if value in ("", "none") else value


class HttpStatus(FactBase):
    """
    The HTTP status code a URL answers on the host itself, or ``None`` when nothing answers.

    .. code:: python

        200
    """

    requires_command = "curl"

    def command(self, url: str) -> str:
        return f"curl --silent --output /dev/null --max-time 5 --write-out '%{{http_code}}' {shlex.quote(url)} || true"

    def process(self, output: list[str]) -> int | None:
        code = output[0].strip() if output else ""
        return int(code) if code.isdigit() and code != "000" else None


def tcp_answers_command(address: str, port: int) -> str:
    """Exit status 0 when something accepts a TCP connection there (bash's /dev/tcp: no tool needed)."""
    return f"timeout 5 bash -c {shlex.quote(f'exec 3<>/dev/tcp/{address}/{port}')} 2>/dev/null"


def tcp_listening_command(port: int) -> str:
    """Exit status 0 when something on the host listens on the TCP port (/proc/net/tcp{,6}, state
    0A). Unlike connecting, this takes nothing from a server that serves one client at a time
    (llama.cpp's RPC server: while its head is connected, probes only fill its accept queue)."""
    return (f"awk -v p=:{port:04X} '$4 == \"0A\" && substr($2, length($2) - 4) == p {{ found = 1 }} "
            "END { exit !found }' /proc/net/tcp /proc/net/tcp6")


class TcpListening(FactBase):
    """
    Whether something on the host listens on a TCP port.

    .. code:: python

        True
    """

    def command(self, port: int) -> str:
        return f"if {tcp_listening_command(port)}; then echo yes; else echo no; fi"

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "yes"


class RayClusterLacks(FactBase):
    """
    What the deployment's Ray cluster lacks, asked of the head's GCS with the check the deploy
    installs: one line per missing node (or the head not answering); empty when it has them all.

    .. code:: python

        ["Ray node 10.213.0.13 is not in the cluster of 10.213.0.11:6379 (alive: 10.213.0.11, 10.213.0.12)"]
    """

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, check: list[str]) -> str:
        # The check exits 1 or 2 when something lacks; the fact reads its lines, not its status.
        return " ".join(shlex.quote(word) for word in check) + " 2>/dev/null || true"

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


class NetworkInterfaces(FactBase):
    """
    The host's network interfaces and their IP addresses.

    .. code:: python

        {"eth0": ["10.213.0.11"], "lo": ["127.0.0.1", "::1"]}
    """

    @staticmethod
    def default() -> dict[str, list[str]]:
        return {}

    def command(self) -> str:
        # /sys/class/net lists every interface; `ip` (when present) gives their addresses.
        return ("for d in /sys/class/net/*; do n=${d##*/}; echo \"$n $(ip -o addr show dev \"$n\" 2>/dev/null "
                "| awk '{print $4}' | cut -d/ -f1 | tr '\\n' ' ')\"; done")

    def process(self, output: list[str]) -> dict[str, list[str]]:
        interfaces = {}
        for line in output:
            name, *addresses = line.split()
            interfaces[name] = addresses
        return interfaces


class EstablishedTo(FactBase):
    """
    The remote ends (address:port) of the host's established IPv4 TCP connections to a port.

    .. code:: python

        ["10.213.0.12:50052"]
    """

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, port: int) -> str:
        # /proc/net/tcp: remote end as hex address:port in the third column, state 01 = ESTABLISHED.
        return (f"awk -v p={port:04X} 'NR > 1 && $4 == \"01\" && substr($3, 10) == p {{ print $3 }}' "
                "/proc/net/tcp")

    def process(self, output: list[str]) -> list[str]:
        peers = set()
        for line in output:
            address, _, port = line.strip().partition(":")
            if len(address) == 8 and port:
                peers.add(".".join(str(b) for b in bytes.fromhex(address)[::-1]) + f":{int(port, 16)}")
        return sorted(peers)


class RunningServiceVariable(FactBase):
    """
    The value of one environment variable in the running main process of a systemd unit:
    ``None`` when the unit has no running process, ``""`` when the process lacks the variable.

    Read from ``/proc/<MainPID>/environ``: this is what the process was started with, which may
    differ from the unit file on disk if a restart never happened.

    .. code:: python

        "3f2a9c0e1b7d4a55"
    """

    requires_command = "systemctl"

    def command(self, unit: str, variable: str) -> str:
        unit, prefix = shlex.quote(unit), shlex.quote(f"{variable}=")
        return (f"pid=$(systemctl show --property MainPID --value {unit}); "
                f'if [ "${{pid:-0}}" != 0 ]; then echo running; '
                f'tr "\\0" "\\n" < /proc/$pid/environ | grep "^"{prefix} || true; fi')

    def process(self, output: list[str]) -> str | None:
        if not output or output[0].strip() != "running":
            return None
        return output[1].partition("=")[2] if len(output) > 1 else ""


class UnitNeedsDaemonReload(FactBase):
    """
    Whether systemd still has an older version of the unit file loaded.

    .. code:: python

        False
    """

    requires_command = "systemctl"

    def command(self, unit: str) -> str:
        return f"systemctl show --property NeedDaemonReload --value {shlex.quote(unit)}"

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "yes"


class PciDevices(FactBase):
    """
    PCI functions from sysfs (no pciutils needed), as dicts of slot, class, vendor and device.

    .. code:: python

        [{"slot": "0000:18:00.0", "class": "030200", "vendor": "10de", "device": "2335"}]
    """

    @staticmethod
    def default() -> list[dict[str, str]]:
        return []

    def command(self) -> str:
        return ('for d in /sys/bus/pci/devices/*; do [ -e "$d/class" ] && '
                'echo "${d##*/} $(cat "$d/class") $(cat "$d/vendor") $(cat "$d/device")"; done; true')

    def process(self, output: list[str]) -> list[dict[str, str]]:
        devices = []
        for line in output:
            parts = line.split()
            if len(parts) == 4:
                slot, pci_class, vendor, device = parts
                devices.append({"slot": slot, "class": pci_class.removeprefix("0x"),
                                "vendor": vendor.removeprefix("0x"), "device": device.removeprefix("0x")})
        return devices


class NvidiaDriver(FactBase):
    """
    The NVIDIA kernel module the running kernel has loaded, the one installed for it, and whether
    nouveau holds the GPUs: a loaded version that differs from the installed one means a reboot
    (or module reload) is pending, and ``nvidia-smi`` would say "Driver/library version mismatch".

    .. code:: python

        {"loaded": "580.105.08", "installed": "580.105.08", "nouveau": False}
    """

    @staticmethod
    def default() -> dict:
        return {"loaded": None, "installed": None, "nouveau": False}

    def command(self) -> str:
        return ('echo "loaded=$(cat /sys/module/nvidia/version 2>/dev/null)"; '
                'echo "installed=$(modinfo -F version nvidia 2>/dev/null)"; '
                'echo "nouveau=$(test -d /sys/module/nouveau && echo yes)"')

    def process(self, output: list[str]) -> dict:
        values = dict(line.partition("=")[::2] for line in output if "=" in line)
        return {"loaded": values.get("loaded", "").strip() or None,
                "installed": values.get("installed", "").strip() or None,
                "nouveau": values.get("nouveau", "").strip() == "yes"}


# UEFI's global variable GUID; the SecureBoot variable's fifth byte is 1 when it is enforced.
_SECURE_BOOT_VAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
DKMS_MOK_CERT = "/var/lib/dkms/mok.pub"


class SecureBoot(FactBase):
    """
    Whether UEFI Secure Boot is enforced (``None`` on legacy BIOS boots), and whether the key
    DKMS signs modules with is already enrolled (so the modules it builds will load).

    .. code:: python

        {"enabled": True, "dkms_key_enrolled": False}
    """

    @staticmethod
    def default() -> dict:
        return {"enabled": None, "dkms_key_enrolled": False}

    def command(self) -> str:
        return (f'if [ -r {_SECURE_BOOT_VAR} ]; then echo "enabled=$(od -An -t u1 -j4 -N1 {_SECURE_BOOT_VAR})"; '
                'else echo "enabled=none"; fi; '
                f'if [ -r {DKMS_MOK_CERT} ] && command -v mokutil >/dev/null; then '
                f'mokutil --test-key {DKMS_MOK_CERT} 2>&1 | grep -q "already enrolled" '
                '&& echo "enrolled=yes"; fi; true')

    def process(self, output: list[str]) -> dict:
        values = dict(line.partition("=")[::2] for line in output if "=" in line)
        enabled = values.get("enabled", "none").strip()
        return {"enabled": None if enabled == "none" else enabled == "1",
                "dkms_key_enrolled": values.get("enrolled", "").strip() == "yes"}


class AptHeldPackages(FactBase):
    """
    Packages apt keeps at their installed version (``apt-mark hold``).

    .. code:: python

        ["nvidia-open-580", "nvidia-fabricmanager-580"]
    """

    requires_command = "apt-mark"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "apt-mark showhold"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip())


class AptComponentEnabled(FactBase):
    """
    Whether any apt source of the host (one-line or deb822 format) carries a component.

    .. code:: python

        True
    """

    def command(self, component: str) -> str:
        word = shlex.quote(component)
        return (f"grep -rhsE '^(Components:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ "
                f"| grep -qw {word} && echo yes || echo no")

    def process(self, output: list[str]) -> bool:
        return bool(output) and output[0].strip() == "yes"


_LOCKED_NEVRA = re.compile(r"^(?P<name>.+)-(?:\d+:)?(?P<version>[^-]+)-(?P<release>[^-]+?)(?:\.\*)?$")


class DnfVersionLocks(FactBase):
    """
    Packages dnf's versionlock plugin holds, with the version each is held at.

    .. code:: python

        {"nvidia-open": "580.105.08", "nvidia-fabricmanager": "580.105.08"}
    """

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self) -> str:
        return "cat /etc/dnf/plugins/versionlock.list 2>/dev/null || true"

    def process(self, output: list[str]) -> dict[str, str]:
        locks = {}
        for line in output:
            line = line.strip()
            match = _LOCKED_NEVRA.match(line) if line and not line.startswith("#") else None
            if match:
                locks[match["name"]] = match["version"]
        return locks


class DnfEnabledRepositories(FactBase):
    """
    The ids of the dnf repositories a host has enabled.

    .. code:: python

        ["appstream", "baseos", "crb", "epel"]
    """

    requires_command = "dnf"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "dnf repolist --enabled -q"

    def process(self, output: list[str]) -> list[str]:
        ids = [line.split()[0] for line in output if line.strip() and not line.startswith("repo id")]
        return sorted(ids)


class AmdgpuDriver(FactBase):
    """
    The amdgpu kernel module: the version loaded (``None`` when it is not loaded or the in-kernel
    module reports none), the one installed for the running kernel (amdgpu-dkms sets it), and
    the kernel command line's parameters, which say whether the boot had ``iommu=pt``.

    .. code:: python

        {"loaded": "6.12.12", "installed": "6.12.12", "cmdline": ["ro", "quiet", "iommu=pt"]}
    """

    @staticmethod
    def default() -> dict:
        return {"loaded": None, "installed": None, "cmdline": []}

    def command(self) -> str:
        return ('echo "loaded=$(cat /sys/module/amdgpu/version 2>/dev/null || '
                '{ test -d /sys/module/amdgpu && echo in-kernel; })"; '
                'echo "installed=$(modinfo -F version amdgpu 2>/dev/null)"; '
                'echo "cmdline=$(cat /proc/cmdline)"')

    def process(self, output: list[str]) -> dict:
        values = dict(line.partition("=")[::2] for line in output if "=" in line)
        return {"loaded": values.get("loaded", "").strip() or None,
                "installed": values.get("installed", "").strip() or None,
                "cmdline": values.get("cmdline", "").split()}


class FindInFile(FactBase):
    """
    The files among ``path`` (a space-separated list of files or globs) that contain ``pattern``.

    .. code:: python

        ["/etc/apt/sources.list.d/rocm.list"]
    """

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, path: str, pattern: str) -> str:
        return f"grep -lsF {shlex.quote(pattern)} {path} || true"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip())


class DpkgState(FactBase):
    """
    Whether apt or dpkg is running right now (another deploy's, or unattended-upgrades), and
    whether an earlier dpkg run was cut off and left packages half-installed.

    .. code:: python

        {"busy": False, "interrupted": True}
    """

    requires_command = "dpkg"

    @staticmethod
    def default() -> dict:
        return {"busy": False, "interrupted": False}

    def command(self) -> str:
        return ("pidof apt-get apt dpkg >/dev/null && echo busy; "
                'if [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; '
                "then echo interrupted; fi; true")

    def process(self, output: list[str]) -> dict:
        words = {line.strip() for line in output}
        return {"busy": "busy" in words, "interrupted": "interrupted" in words}


class ApiKeyState(FactBase):
    """
    The engine's API key as installed: an id (the first 16 hex digits of its sha256, never the key),
    and whether the engine's environment file holds exactly that key, root-owned and mode 0600.
    ``None`` when no key is installed.

    .. code:: python

        {"key_id": "5d41402abc4b2a76", "env_current": True}
    """

    def command(self, key_file: str, env_file: str, variable: str) -> str:
        key, env = shlex.quote(key_file), shlex.quote(env_file)
        # printf is a shell builtin: the key never becomes a process argument.
        return (f"[ -s {key} ] || exit 0; k=$(cat {key}); "
                'id=$(printf %s "$k" | sha256sum | cut -c1-16); echo "$id"; '
                f"[ \"$(stat -c '%U %a' {env} 2>/dev/null)\" = 'root 600' ] && "
                f"[ \"$(cat {env})\" = \"$(printf 'GLMSTACK_API_KEY_ID=%s\\n{variable}=%s' \"$id\" \"$k\")\" ] "
                "&& echo current; true")

    def process(self, output: list[str]) -> dict | None:
        lines = [line.strip() for line in output if line.strip()]
        if not lines:
            return None
        return {"key_id": lines[0], "env_current": lines[1:] == ["current"]}


def files_signature_command(directory: str) -> str:
    """Prints one sum over every file's name, size and mtime under `directory` (the hub client's
    .cache aside): a changed, added or removed file changes it, without reading any file."""
    d = shlex.quote(directory)
    return (f"find {d} -path {d}/.cache -prune -o -type f -printf '%P %s %T@\\n' 2>/dev/null "
            "| LC_ALL=C sort | sha256sum | cut -c1-64")


class WeightsState(FactBase):
    """
    Which weights a ready marker records, and whether the files are still as they were when they
    were verified (names, sizes and mtimes; a file written since, or removed, breaks it).

    .. code:: python

        {"fingerprint": "4c2d...", "intact": True}
    """

    @staticmethod
    def default() -> dict:
        return {"fingerprint": None, "intact": False}

    def command(self, marker: str, signature_file: str, directory: str) -> str:
        return (f"cat {shlex.quote(marker)} 2>/dev/null; echo ---; "
                f"cat {shlex.quote(signature_file)} 2>/dev/null; echo ---; {files_signature_command(directory)}")

    def process(self, output: list[str]) -> dict:
        text = "\n".join(output).split("---")
        marker, recorded, current = ((part.strip() or None) for part in (text + ["", "", ""])[:3])
        return {"fingerprint": marker, "intact": recorded is not None and recorded == current}


class AscendVersions(FactBase):
    """
    The version each Ascend component's installer left on the host (None where it is absent),
    read from the first of its version files that exists, at the line starting with its key.

    .. code:: python

        {"driver": "25.5.1", "firmware": None}
    """

    def command(self, components: list[tuple[str, list[str], str]]) -> str:
        lines = []
        for name, paths, key in components:
            pattern = shlex.quote(rf"s/^[[:space:]]*{re.escape(key)}[[:space:]]*[=:][[:space:]]*//p")
            files = " ".join(shlex.quote(path) for path in paths)
            lines.append(f"v=; for f in {files}; do if [ -f \"$f\" ]; then "
                         f"v=$(sed -n {pattern} \"$f\" | head -n 1); break; fi; done; echo {name}=\"$v\"")
        return "; ".join(lines)

    def process(self, output: list[str]) -> dict[str, str | None]:
        versions = {}
        for line in output:
            name, _, value = line.partition("=")
            versions[name.strip()] = value.strip() or None
        return versions


class BootId(FactBase):
    """
    This boot's id: it changes with every boot, so a record of it tells whether a reboot happened.

    .. code:: python

        "4d1f3b0e-8a5c-4b8e-9f0e-2c6d1a7b9e3f"
    """

    def command(self) -> str:
        return "cat /proc/sys/kernel/random/boot_id"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None


def cann_environment_command(scripts: list[list[str]], base_path: str, patterns: list[str]) -> str:
    """Prints what CANN's set_env scripts export that the engine needs, one KEY=VALUE line each,
    sorted: the content of the engine's CANN environment file (empty where CANN is absent).
    `scripts`: per CANN part, its scripts' possible places (the first that exists is run)."""
    from glmstack.ascend import source_first_existing

    q = shlex.quote
    regex = "|".join(re.escape(p).replace(r"\*", "[A-Za-z0-9_]*") for p in patterns)
    inner = f"found=; {source_first_existing(tuple(tuple(group) for group in scripts))}; [ -z \"$found\" ] || env"
    return (f"env -i PATH={q(base_path)} HOME=/root bash -c {q(inner)} "
            f"| grep -E {q(f'^({regex})=')} | LC_ALL=C sort || true")


class CannEnvironment(FactBase):
    """
    What CANN's environment scripts set for the engine, as the lines of its environment file.

    .. code:: python

        ["ASCEND_TOOLKIT_HOME=/usr/local/Ascend/ascend-toolkit/latest", "LD_LIBRARY_PATH=..."]
    """

    def command(self, scripts: list[list[str]], base_path: str, patterns: list[str]) -> str:
        return cann_environment_command(scripts, base_path, patterns)

    def process(self, output: list[str]) -> list[str]:
        return [line for line in output if line]


class NpuRoceAddresses(FactBase):
    """
    Each NPU's RoCE address and netmask as ``hccn_tool -i <npu> -ip -g`` shows them, NPU 0 first;
    None for an NPU whose port has no address (or where the tool is not installed yet).

    .. code:: python

        [{"address": "198.51.100.11", "netmask": "255.255.255.0"}, None]
    """

    def command(self, hccn_tool: str, npus: int) -> str:
        # The tool serves one query at a time (Huawei: no concurrent calls): one NPU after another.
        return (f"for i in $(seq 0 {npus - 1}); do echo \"npu=$i\"; "
                f"{shlex.quote(hccn_tool)} -i \"$i\" -ip -g 2>&1 || true; done")

    def process(self, output: list[str]) -> list[dict[str, str] | None]:
        found: list[dict[str, str]] = []
        for line in output:
            if re.fullmatch(r"npu=\d+", line.strip()):
                found.append({})
            elif found:
                for key, name in (("address", "ipaddr"), ("netmask", "netmask")):
                    match = re.search(rf"\b{name}\s*:\s*(\d{{1,3}}(?:\.\d{{1,3}}){{3}})\b", line)
                    if match:
                        found[-1][key] = match.group(1)
        return [each if "address" in each else None for each in found]


class GatewayTlsState(FactBase):
    """
    The gateway's TLS files in ``directory`` as they are: each present file's owner and mode, and
    whether server.pem is exactly server.crt then server.key (what HAProxy reads). Contents never.

    .. code:: python

        {"files": {"ca.crt": "root 644", "server.pem": "root 600"}, "pem_current": True}
    """

    NAMES = ("ca.key", "ca.crt", "server.key", "server.crt", "server.pem")

    def command(self, directory: str) -> str:
        d = shlex.quote(directory)
        listing = " ".join(self.NAMES)
        return (f"cd {d} 2>/dev/null || exit 0; for f in {listing}; do [ -s \"$f\" ] && "
                "echo \"$f $(stat -c '%U %a' \"$f\")\"; done; "
                "[ -s server.pem ] && cat server.crt server.key 2>/dev/null | cmp -s - server.pem "
                "&& echo current; true")

    def process(self, output: list[str]) -> dict:
        lines = [line.strip() for line in output if line.strip()]
        files = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines if " " in line}
        return {"files": files, "pem_current": "current" in lines}


class GatewayKeyAcl(FactBase):
    """
    Whether the gateway's ACL file accepts exactly the API key in ``key_file`` (``Bearer <key>``),
    root-owned and mode 0600; ``None`` when no key is installed. The key is never printed.

    .. code:: python

        {"key_id": "5d41402abc4b2a76", "current": True}
    """

    def command(self, key_file: str, acl_file: str) -> str:
        key, acl = shlex.quote(key_file), shlex.quote(acl_file)
        # printf is a shell builtin: the key never becomes a process argument.
        return (f"[ -s {key} ] || exit 0; k=$(cat {key}); "
                'printf %s "$k" | sha256sum | cut -c1-16; '
                f"[ \"$(stat -c '%U %a' {acl} 2>/dev/null)\" = 'root 600' ] && "
                f"[ \"$(cat {acl})\" = \"$(printf 'Bearer %s' \"$k\")\" ] && echo current; true")

    def process(self, output: list[str]) -> dict | None:
        lines = [line.strip() for line in output if line.strip()]
        if not lines:
            return None
        return {"key_id": lines[0], "current": lines[1:] == ["current"]}
