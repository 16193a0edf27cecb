"""Collective bootstraps inside the accelerator units' own sandboxes, on lab nodes.

A probe unit is the unit the deploy renders for a UnitSpec, with only what starts the engine swapped:
ExecStart runs a probe from `probes/`; the ExecStartPre lines (the deployment's firewall, waits
for other nodes) and the Ray ordering (Requires=, PartOf=, whose units are not installed) are
dropped; Restart=no, so the probe runs once. Every sandbox directive stays exactly as rendered
(`probe_unit_changes` lists what differs). The lab has no GPU and needs none: NCCL's bootstrap
(ncclGetUniqueId) and Gloo's rendezvous run on the CPU and the network alone.

What the probes run: libnccl.so.2 from the nvidia-nccl wheel the engine's pinned torch requires
(read from the wheels' metadata on the package index, downloaded once into the lab cache), and
Debian 12's own torch (python3-torch 1.13, a CPU build with Gloo; not the engine's torch, whose
wheel carries CUDA), installed on the nodes with apt from debs cached in the lab cache.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from glmstack.catalog import load_catalog
from glmstack.lab.host import LabError
from roles.service.render import render_unit, rendered_files, unit_paths
from roles.service.units import UnitSpec

PROBES = Path(__file__).resolve().parent / "probes"
# Where the probes and the NCCL library lie on a node: readable under ProtectSystem=strict and
# ProtectHome=yes, as the engine's own environment under /opt is.
NODE_PROBE_DIR = "/opt/glmstack-probes"
# The line every engine unit had before AF_NETLINK was allowed for collectives (issue 15).
OLD_ADDRESS_FAMILIES = "AF_UNIX AF_INET AF_INET6"
# The index's wheels for the engines' usual host: the platform whose metadata is read.
WHEEL_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.12", "--only-binary", ":all:")
DEBIAN_TORCH = "python3-torch"
DROPPED_KEYS = ("ExecStartPre", "Requires", "PartOf")


def probe_unit(unit_text: str, exec_start: str, address_families: str | None = None) -> str:
    """The rendered unit with ExecStart swapped for the probe (and, given, another address family
    list); see the module's docstring for the rest."""
    lines = []
    for line in unit_text.splitlines():
        key = line.partition("=")[0]
        if key in DROPPED_KEYS:
            continue
        if key == "ExecStart":
            line = f"ExecStart={exec_start}"
        elif key == "Restart":
            line = "Restart=no"
        elif key == "RestrictAddressFamilies" and address_families is not None:
            line = f"RestrictAddressFamilies={address_families}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def probe_unit_changes(unit_text: str, probe_text: str) -> set[str]:
    """The directive names whose lines differ between a rendered unit and its probe unit."""
    def directives(text: str) -> set[str]:
        return {line for line in text.splitlines() if "=" in line and not line.startswith("#")}
    return {line.partition("=")[0] for line in directives(unit_text) ^ directives(probe_text)}


# --- NCCL: the library the engine's torch pins --------------------------------------------------

def _wheel_metadata(requirement: str) -> dict:
    """The metadata of the wheel pip would install for REQUIREMENT on the engines' platform."""
    with tempfile.TemporaryDirectory() as target:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--no-deps", "--ignore-installed",
             "--report", "-", "--target", target, *WHEEL_PLATFORM, requirement],
            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"pip could not read the metadata of {requirement}: {result.stderr.strip()[-800:]}")
    return json.loads(result.stdout)["install"][0]["metadata"]


def _pinned(requirements: list[str], pattern: str) -> tuple[str, str]:
    for requirement in requirements:
        match = re.match(rf"^({pattern})\s*==\s*([\w.+]+)\s*(;|$)", requirement)
        if match:
            return match[1], match[2]
    raise LabError(f"no requirement pins {pattern}: {requirements}")


def engine_nccl_pin(cache_dir: Path, engine: str = "vllm") -> tuple[str, str]:
    """(wheel, version) of the NCCL that the catalog's pinned engine runs: the nvidia-nccl
    requirement of the torch its wheel pins. Read once from the index and kept in the cache."""
    version = load_catalog().engines[engine].version
    record = cache_dir / "nccl" / f"{engine}-{version}.json"
    if record.exists():
        known = json.loads(record.read_text())
        return known["wheel"], known["version"]
    engine_meta = _wheel_metadata(f"{engine}=={version}")
    torch = _pinned(engine_meta.get("requires_dist", []), "torch")
    torch_meta = _wheel_metadata(f"torch=={torch[1]}")
    pin = _pinned(torch_meta.get("requires_dist", []), r"nvidia-nccl-cu\d+")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"wheel": pin[0], "version": pin[1], "torch": torch[1]}))
    return pin


def nccl_library(cache_dir: Path, pin: tuple[str, str]) -> Path:
    """libnccl.so.2 out of the pinned wheel, downloaded with the host's pip once."""
    name, version = pin
    library = cache_dir / "nccl" / f"{name}-{version}" / "libnccl.so.2"
    if library.exists():
        return library
    wheels = cache_dir / "nccl"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels),
                    "--platform", "manylinux_2_18_x86_64", *WHEEL_PLATFORM, f"{name}=={version}"], check=True)
    wheel = next(wheels.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    library.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive, open(library.with_suffix(".partial"), "wb") as out:
        member = next(n for n in archive.namelist() if n.endswith("/lib/libnccl.so.2"))
        shutil.copyfileobj(archive.open(member), out)
    library.with_suffix(".partial").replace(library)
    return library


def nccl_version_code(version: str) -> int:
    """ncclGetVersion's number for a release ("2.28.9" -> 22809)."""
    major, minor, patch = (int(part) for part in version.split(".")[:3])
    return major * 10000 + minor * 100 + patch


def copy_probes(node_root: Path, nccl: Path) -> None:
    """The probe scripts and the NCCL library into a node's filesystem."""
    target = node_root / NODE_PROBE_DIR.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    for script in PROBES.glob("*.py"):
        shutil.copyfile(script, target / script.name)
    if not (target / "libnccl.so.2").exists():
        shutil.copyfile(nccl, target / "libnccl.so.2")


# --- Debian's torch, for Gloo --------------------------------------------------------------------

def install_debian_torch(host, node_root: Path, cache_dir: Path) -> None:
    """python3-torch on a node with apt; its debs are kept in the lab cache for the next node and run."""
    debs = cache_dir / "debs" / DEBIAN_TORCH
    archives = node_root / "var/cache/apt/archives"
    archives.mkdir(parents=True, exist_ok=True)
    for deb in debs.glob("*.deb"):
        shutil.copyfile(deb, archives / deb.name)
    host.run_expect([0], "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                         f"-o APT::Keep-Downloaded-Packages=true --no-install-recommends {DEBIAN_TORCH} >/dev/null")
    debs.mkdir(parents=True, exist_ok=True)
    for deb in archives.glob("*.deb"):
        if not (debs / deb.name).exists():
            partial = debs / f"{deb.name}.{node_root.parent.name}.partial"  # nodes install side by side
            shutil.copyfile(deb, partial)
            partial.replace(debs / deb.name)


# --- Running a probe unit ------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeRun:
    unit: str
    status: int  # the probe's exit status (systemd's ExecMainStatus)
    journal: str  # what this run of the unit logged (its own invocation only)


def probe_unit_name(name: str) -> str:
    return f"glmstack-probe-{name}.service"


@dataclass(frozen=True)
class ProbeSetup:
    """What a node needs to run the probe unit of a UnitSpec: the unit's text, the command that
    makes its user, groups and directories, and its environment files (path -> content)."""

    text: str
    command: str
    files: dict[str, str]


def probe_setup(unit: UnitSpec, exec_start: str, address_families: str | None = None) -> ProbeSetup:
    """The probe unit of UNIT (see `probe_unit`), with what its sandbox needs to start: the service
    user, its groups, its home and writable paths, its environment files as rendered."""
    text = probe_unit(render_unit(unit), exec_start, address_families)
    groups = [unit.group, *unit.supplementary_groups]
    paths = unit_paths(unit)
    directories = [paths["home"], *unit.writable_paths]
    command = " && ".join(
        [f"(getent group {group} >/dev/null || groupadd --system {group})" for group in groups]
        + [f"(id -u {unit.user} >/dev/null 2>&1 || useradd --system --no-create-home "
           f"--gid {unit.group} --home-dir {unit.state_dir} "
           f"--shell /usr/sbin/nologin {unit.user})"]
        + [f"install -d -o {unit.user} -g {unit.group} -m 750 {d}" for d in directories])
    rendered = {path: content for path, (content, _mode) in rendered_files(unit).items()}
    # The unit's environment files: its own as rendered; CANN's and the API key's empty here.
    files = {path: rendered.get(path, "") for path in
             (line.partition("=")[2].lstrip("-") for line in text.splitlines() if line.startswith("EnvironmentFile="))}
    return ProbeSetup(text=text, command=command, files=files)


def install_probe(host, node_root: Path, name: str, unit: UnitSpec, exec_start: str,
                  address_families: str | None = None) -> str:
    """Install the probe unit of UNIT (a node's UnitSpec) on a node, with what its sandbox needs to
    start (`probe_setup`); return the probe unit's name."""
    setup = probe_setup(unit, exec_start, address_families)
    host.run_expect([0], setup.command)
    for path, content in setup.files.items():
        target = node_root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o600)
    probe = probe_unit_name(name)
    (node_root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    (node_root / "etc/systemd/system" / probe).write_text(setup.text)
    host.run_expect([0], f"systemctl daemon-reload && systemctl reset-failed {probe} 2>/dev/null; true")
    return probe


def start_probe(host, unit: str) -> None:
    result = host.run(f"systemctl start {unit}")
    if result.rc != 0:
        raise LabError(f"{unit} did not start: {result.stderr.strip()}\n"
                       + host.run(f"journalctl -u {unit} -n 30 --no-pager -o cat").stdout)


def wait_probe(host, unit: str, timeout: float = 150) -> ProbeRun:
    """Once the probe has exited: its exit status and what this run logged."""
    deadline = time.monotonic() + timeout
    while host.check_output(f"systemctl show -p ActiveState --value {unit}") not in ("inactive", "failed"):
        if time.monotonic() > deadline:
            host.run(f"systemctl stop {unit}")
            raise LabError(f"{unit} still runs after {timeout:.0f}s")
        time.sleep(0.5)
    status = int(host.check_output(f"systemctl show -p ExecMainStatus --value {unit}") or -1)
    journal = ""
    for _ in range(20):  # the probe's last lines reach the journal just after it exits
        host.run("journalctl --sync")
        # Every probe unit has a name of its own on nodes booted for the module: its whole journal
        # is this run's (the probe's lines and systemd's about it).
        journal = host.check_output(f"journalctl -u {unit} --no-pager -o cat")
        if "succeeded" in journal or "failed" in journal or "across 2 ranks" in journal:
            break
        time.sleep(0.5)
    return ProbeRun(unit=unit, status=status, journal=journal)


def run_probe(host, unit: str) -> ProbeRun:
    start_probe(host, unit)
    return wait_probe(host, unit)
