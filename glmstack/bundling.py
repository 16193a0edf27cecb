"""`glmstack bundle INVENTORY OUT`: everything the inventory's deploy needs from outside, in one directory.

Run on a connected machine of the hosts' release (its apt configuration is what the apt mirrors are
made from). Parts already in OUT (or in the cache) are reused; the manifest is written last.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from glmstack.bundle import MANIFEST, PARTS, PYTHON, TOOLS, BundleError, HostNeeds, bundle_llamacpp_path, write_manifest
from glmstack.bundle_apt import release_codename, write_apt_mirrors
from glmstack.bundle_weights import write_weights
from glmstack.catalog import load_catalog
from glmstack.lab.artifacts import llamacpp_source
from glmstack.os_packages import bundle_packages
from glmstack.planning import plan_inventory
from glmstack.uv import DEFAULT_INDEX, TORCH_BACKEND_INDEX, UV_PACKAGE
from glmstack.vendor_bundle import (
    VENDOR_INDEX,
    distribution_packages,
    this_distribution,
    vendor_files_by_host,
    write_vendor_parts,
)
from glmstack.vendor_mirror import Fetcher
from roles.engine.plan import EnvTarget, environment_targets
from roles.model.plan import HUB_CLIENTS

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan

# Left in OUT from the first run on: a later run may replace what is there.
MARKER = ".glmstack-bundle"
DEFAULT_CACHE = Path.home() / ".cache" / "glmstack" / "bundle"
UV = Path(sys.executable).parent / "uv"


def python_targets(plan: DeployPlan) -> list[EnvTarget]:
    if plan.engine_env:
        return environment_targets(plan.engine_env)
    arch = plan.accelerator.cpu_arch[0]
    distributions = load_catalog().packages.distributions.values()
    oldest: dict[str, str] = {}
    for runtime in distributions:
        if runtime.python not in oldest or int(runtime.glibc.split(".")[1]) < int(oldest[runtime.python].split(".")[1]):
            oldest[runtime.python] = runtime.glibc
    return [EnvTarget(python, arch, glibc) for python, glibc in sorted(oldest.items())]


def set_id(name: str, target: EnvTarget) -> str:
    return f"{name}-cp{target.python.replace('.', '')}-{target.platform}"


def _run(command: list[str], what: str) -> str:
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"{what}: {last}")
    return process.stdout


def lock_python_set(requirements: list[str], target: EnvTarget, torch_backend: str | None = None,
                    extra_index_urls: tuple[str, ...] = ()) -> str:
    """`uv pip compile --generate-hashes` of the requirements for the target's Python and platform."""
    command = [str(UV), "pip", "compile", "-", "--generate-hashes", "--no-header", "--quiet",
               "--python-version", target.python, "--python-platform", target.platform, "--only-binary", ":all:"]
    if torch_backend:
        command += ["--torch-backend", torch_backend]
    for url in extra_index_urls:
        command += ["--extra-index-url", url]
    process = subprocess.run(command, input="\n".join(requirements) + "\n", capture_output=True, text=True)
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"resolving {' '.join(requirements)} for Python {target.python} on {target.platform}: {last}")
    return process.stdout


LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def pip_platforms(target: EnvTarget) -> list[str]:
    """pip's --platform tags for uv's target: every manylinux tag the target's glibc meets (pip takes a
    tag as given, not the older ones with it)."""
    newest = int(target.glibc.split(".")[1])
    tags = [f"manylinux_2_{minor}_{target.arch}" for minor in range(newest, 4, -1)]
    return tags + [f"{LEGACY_MANYLINUX[minor]}_{target.arch}" for minor in LEGACY_MANYLINUX if minor <= newest]


def write_python_set(out: Path, name: str, requirements: list[str], target: EnvTarget, cache: Path,
                     torch_backend: str | None = None, extra_index_urls: tuple[str, ...] = ()) -> str:
    """python/<set id>/: the lock (requirements.txt, with hashes) and exactly its wheels."""
    ident = set_id(name, target)
    directory = out / PYTHON / ident
    lock = lock_python_set(requirements, target, torch_backend, extra_index_urls)
    wheels = cache / "wheels" / ident
    wheels.mkdir(parents=True, exist_ok=True)
    lock_file = wheels / "requirements.txt"
    lock_file.write_text(lock)
    indexes = [*([TORCH_BACKEND_INDEX.format(backend=torch_backend)] if torch_backend else []), *extra_index_urls]
    platforms = [arg for tag in pip_platforms(target) for arg in ("--platform", tag)]
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", *platforms,
          "--python-version", target.python, "--implementation", "cp", "--require-hashes",
          "-r", str(lock_file), "-d", str(wheels), "--index-url", DEFAULT_INDEX,
          *(arg for url in indexes for arg in ("--extra-index-url", url))],
         f"downloading the wheels of {ident}")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for wheel in sorted(wheels.glob("*.whl")):
        shutil.copyfile(wheel, directory / wheel.name)
    (directory / "requirements.txt").write_text(lock)
    return ident


def write_uv(out: Path, target: EnvTarget, cache: Path) -> str:
    """tools/uv-<platform>/: uv's wheel for the target (it holds the binary) and its lock."""
    ident = write_python_set(out, "uv", [UV_PACKAGE], target, cache)
    # uv lives in tools/, not among the Python sets.
    dest = out / TOOLS / ident
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    (out / PYTHON / ident).replace(dest)
    return ident


def write_llamacpp(out: Path, plan: DeployPlan, cache: Path) -> str:
    """llama.cpp/llama.cpp-<commit>.tar.gz: the host's local tarball, or the catalog's pin from the
    llama-cpp-python sdist (glmstack.lab.artifacts)."""
    llamacpp = plan.llamacpp
    assert llamacpp is not None
    relative = bundle_llamacpp_path(llamacpp.version)
    dest = out / relative
    if llamacpp.source_kind == "local":
        source = Path(llamacpp.source)
    elif llamacpp.version == load_catalog().engines["llama.cpp"].version:
        source = llamacpp_source(cache / "llama.cpp")[0]
    else:
        raise BundleError(f"host {plan.host}: field llamacpp_source: a bundle takes llama.cpp {llamacpp.version} from "
                          "a tarball on this machine; give its path (the catalog's pin is fetched on its own)")
    if not dest.is_file() or dest.stat().st_size != source.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest.with_suffix(".partial"))
        dest.with_suffix(".partial").replace(dest)
    return relative


def make_bundle(inventory: str | Path, out: Path, cache: Path | None = None, weights: bool = False,
                log=print, vendor_distributions: list[str] | None = None) -> Path:
    """Write the bundle for every host of the inventory; the manifest's path. vendor_distributions:
    the os-release ID-VERSION_IDs whose vendor repositories it carries (None: this machine's)."""
    cache = cache or DEFAULT_CACHE
    started = time.monotonic()
    plans = plan_inventory(inventory)
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file() and not (out / MARKER).is_file():
        raise BundleError(f"{out} is a directory with other files, not a bundle; give a new or empty directory")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()
    (out / MANIFEST).unlink(missing_ok=True)  # half-written from here on
    # Every part is made again from the cache (links and copies): nothing of an earlier run stays.
    for part in PARTS:
        if (out / part).is_dir():
            shutil.rmtree(out / part)
    needs = {plan.host: HostNeeds() for plan in plans}
    # First: a model without pinned sums stops it before anything is fetched (glmstack.bundle_weights).
    weights_sums: dict = {}
    if weights:
        by_host, weights_sums = write_weights(out, plans, cache, str(inventory), log)
        for name, part in by_host.items():
            needs[name].weights = part
    # The vendors' repositories and Ascend sets (glmstack.vendor_bundle), for this machine's
    # distribution: what their packages need from it joins the distribution's mirror below.
    own = this_distribution()
    supported = load_catalog().packages.distributions
    log("vendor: NVIDIA and AMD partial mirrors, Ascend package sets")
    vendor = write_vendor_parts(plans, out, Fetcher(cache=cache / "vendor"),
                                distributions=vendor_distributions or ([own] if own in supported else None))
    from_vendor = distribution_packages(vendor, own)
    by_arch: dict[str, list[str]] = {}
    for plan in plans:
        packages = bundle_packages(plan) + (from_vendor if plan.nvidia or plan.amd else [])
        by_arch.setdefault(plan.accelerator.cpu_arch[0], []).extend(packages)
        needs[plan.host].apt_packages = packages
    repos: dict[str, list[str]] = {}
    for arch, packages in sorted(by_arch.items()):
        log(f"apt: {len(set(packages))} packages and their closure for {arch}")
        repos[arch] = write_apt_mirrors(out, sorted(set(packages)), arch, cache / "debs")
    for name, files in vendor_files_by_host(vendor.index).items():
        needs[name].vendor_files = files
    for plan in plans:
        host = needs[plan.host]
        host.apt_repos = repos[plan.accelerator.cpu_arch[0]]
        uses_uv = plan.engine_env is not None or plan.model.kind in HUB_CLIENTS
        for target in python_targets(plan) if uses_uv else []:
            log(f"tools: uv for {target.platform}")
            host.tools.append(write_uv(out, target, cache))
            if plan.model.kind in HUB_CLIENTS:
                client = HUB_CLIENTS[plan.model.kind]
                log(f"python: {client.package} for Python {target.python} on {target.platform}")
                host.python_sets.append(write_python_set(out, client.venv, [client.package], target, cache))
            if plan.engine_env:
                env = plan.engine_env
                log(f"python: {env.label} for Python {target.python} on {target.platform}")
                host.python_sets.append(write_python_set(
                    out, env.install_key, list(env.before_source_builds), target, cache, env.torch_backend,
                    env.extra_index_urls))
        if plan.llamacpp:
            host.llamacpp_source = write_llamacpp(out, plan, cache)
    manifest = write_manifest(out, str(inventory), needs,
                              extra={"apt_release": release_codename(), "seconds": round(time.monotonic() - started),
                                     VENDOR_INDEX: vendor.index}, known=weights_sums)
    return manifest


