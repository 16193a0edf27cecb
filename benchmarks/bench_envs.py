"""`make bench-envs`: the real vLLM engine environment onto three lab nodes, with and without the
once-per-lab fan-out (roles/model/fanout.py), behind one throttled uplink the lab shares, and from a
bundle (glmstack/bundling.py) inside the lab.

The package index stands in as a local mirror: the environment's wheels, fetched once on this machine
with its own pip and kept under ~/.cache/glmstack-bench-envs, served as a simple index with each
file's sha256 and metadata (as PyPI serves them, so a resolver need not download a wheel to lock
it) behind one Uplink of BENCH_UPLINK_MBPS, as `make bench-weights` serves the weights. The nodes'
pip and uv are pointed at it alone (/etc/pip.conf, /etc/uv/uv.toml). Every run starts from empty
environments and empty caches, with the environment's OS packages already on every node:

1. one node alone installs the environment (deploys/engine_envs.py);
2. three nodes, each from the mirror (model_fetch_packages: false);
3. three nodes, the first fetching the wheels once and the others installing from it;
4. one node, then three, from a bundle (its uv and the environment's wheel set for the nodes'
   Python) served over HTTP from inside the lab, no uplink in the way: what the installs alone cost
   on the one machine the lab's nodes share; the bundle made beforehand, timed apart.

Prints each time (the deploy's start to its end) and the ratios of three nodes to one (aim for the
fan-out: <= 1.3). Heavy: several GB onto each node. Leaves no node behind.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from glmstack.bundle import HostNeeds, write_manifest
from glmstack.bundling import write_python_set, write_uv
from glmstack.config import resolve
from glmstack.lab import lab
from glmstack.lab.network import GATEWAY
from glmstack.lab.profile import run_deploy
from glmstack.lab.serve import serve_directory
from glmstack.paths import REPO_ROOT
from glmstack.uv import UV_PACKAGE
from roles.engine.plan import environment_targets

UPLINK = int(os.environ.get("BENCH_UPLINK_MBPS", "100")) * 1_000_000  # bytes/s, shared by every transfer
MIRROR_PORT = 8096
BUNDLE_PORT = 8097
DATA = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm"}
CACHE = Path(os.environ.get("BENCH_ENVS_CACHE", Path.home() / ".cache" / "glmstack-bench-envs"))
MIRROR = CACHE / "mirror"
BUNDLE = CACHE / "bundle"
NODE_PYTHON = "3.11"  # Debian 12's, the lab nodes'
# What a run leaves on a node: environments, uv and pip caches, the fan-out's and the bundle's files.
NODE_STATE = ("/opt/glmstack/venvs", "/opt/glmstack/bundle", "/var/lib/glmstack/downloads", "/root/.cache/uv",
              "/root/.cache/pip")
RUNS = [run for run in os.environ.get("BENCH_RUNS", "one,each,fanned,bundle1,bundle").split(",") if run]


def engine_env():
    return resolve("bench", DATA).engine_env


def _project(wheel: str) -> str:
    return re.sub(r"[-_.]+", "-", wheel.split("-")[0]).lower()


def _core_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        return archive.read(name)


def _page(links) -> str:
    return "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"


def make_mirror() -> int:
    """The environment's wheels (with their dependencies, for Debian 12's Python, as the nodes' is)
    and uv's, as a PEP 503 simple index under simple/ with each file's sha256 and its core metadata
    beside it (PEP 658); returns the wheels' size in bytes."""
    env = engine_env()
    files = MIRROR / "files"
    files.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "-d", str(files),
                    *env.requirements, UV_PACKAGE], check=True)
    projects: dict[str, list[str]] = {}
    for wheel in sorted(files.glob("*.whl")):
        metadata = files / f"{wheel.name}.metadata"
        if not metadata.is_file():
            metadata.write_bytes(_core_metadata(wheel))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        meta_digest = hashlib.sha256(metadata.read_bytes()).hexdigest()
        projects.setdefault(_project(wheel.name), []).append(
            f'<a href="../../files/{html.escape(wheel.name)}#sha256={digest}" '
            f'data-dist-info-metadata="sha256={meta_digest}" data-core-metadata="sha256={meta_digest}">'
            f"{html.escape(wheel.name)}</a><br>")
    simple = MIRROR / "simple"
    if simple.exists():
        shutil.rmtree(simple)
    for project, links in projects.items():
        (simple / project).mkdir(parents=True)
        (simple / project / "index.html").write_text(_page(links))
    (simple / "index.html").write_text(_page(f'<a href="{p}/">{p}</a><br>' for p in sorted(projects)))
    return sum(path.stat().st_size for path in files.glob("*.whl"))


def make_bundle(nodes: list[dict]) -> tuple[float, int]:
    """A bundle of what these nodes' install takes from outside (uv and the environment's wheel set for
    their Python, each with its hash lock), as `glmstack bundle` writes those parts; the NVIDIA
    repositories it would also carry for a B200 are left out (not reachable from here, and not what
    this run installs). Returns the seconds it took and its size in bytes."""
    env = engine_env()
    target = next(t for t in environment_targets(env) if t.python == NODE_PYTHON)
    started = time.monotonic()
    if BUNDLE.exists():
        shutil.rmtree(BUNDLE)
    BUNDLE.mkdir(parents=True)
    cache = CACHE / "bundle-cache"
    tools = write_uv(BUNDLE, target, cache)
    wheels = write_python_set(BUNDLE, env.install_key, list(env.before_source_builds), target, cache,
                              env.torch_backend, env.extra_index_urls)
    needs = {node["address"]: HostNeeds(tools=[tools], python_sets=[wheels]) for node in nodes}
    write_manifest(BUNDLE, "bench-envs", needs)
    size = sum(path.stat().st_size for path in BUNDLE.rglob("*") if path.is_file())
    return time.monotonic() - started, size


def point_at_mirror(host) -> None:
    """The node's pip and uv take packages from the mirror's index alone."""
    url = f"http://{GATEWAY}:{MIRROR_PORT}/simple/"
    pip = f"[global]\nindex-url = {url}\ntrusted-host = {GATEWAY}\ncert = /etc/ssl/certs/ca-certificates.crt\n"
    uv = f'index-url = "{url}"\n'
    host.run_expect([0], f"printf %s {shlex.quote(pip)} > /etc/pip.conf && mkdir -p /etc/uv && "
                         f"printf %s {shlex.quote(uv)} > /etc/uv/uv.toml")


def clean(host) -> None:
    host.run_expect([0], "rm -rf " + " ".join(NODE_STATE))


def os_packages(host) -> None:
    """What the environment needs from the OS, installed before any run, so no run pays for it."""
    packages = " ".join(shlex.quote(name) for name in engine_env().system_packages)
    host.run_expect([0], "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "
                         f"apt-get install -y -q {packages} >/dev/null")


def timed_deploy(paths, nodes: list[dict], extra: dict, name: str) -> float:
    hosts = [lab.node_connection(node["address"], paths) for node in nodes]
    for host in hosts:
        clean(host)
        point_at_mirror(host)
    entries = [entry for entry in lab.inventory_hosts(paths, {**DATA, **extra})
               if entry[0] in {node["address"] for node in nodes}]
    inventory = REPO_ROOT / ".bench" / f"envs-{name}.py"
    inventory.parent.mkdir(parents=True, exist_ok=True)
    inventory.write_text(f"from glmstack.inventory import group\n\nlab = group({entries!r})\n")
    uplink: dict = {}
    started = time.monotonic()
    with (serve_directory(MIRROR, port=MIRROR_PORT, uplink=UPLINK, stats=uplink),
          serve_directory(BUNDLE, port=BUNDLE_PORT)):
        result = run_deploy(inventory, deploy="engine_envs.py")
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        journal = hosts[0].run("journalctl -u glmstack-packages.service --no-pager | tail -30").stdout
        raise SystemExit(f"deploy {name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
                         f"the first node's packages unit:\n{journal}")
    for host in hosts:  # the environment is there and works
        host.run_expect([0], "/opt/glmstack/venvs/vllm-*/bin/python -c 'import vllm.entrypoints.cli.main'")
    print(f"    ({name}: {uplink.get('bytes_sent', 0) / 1e9:.2f} GB through the uplink)", flush=True)
    return elapsed


def main() -> int:
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    BUNDLE.mkdir(parents=True, exist_ok=True)
    try:
        size = make_mirror()
        print(f"mirror: {size / 1e9:.2f} GB of wheels, behind one {UPLINK / 1e6:.0f} MB/s uplink", flush=True)
        nodes = lab.up(3, paths)
        for node in nodes:
            os_packages(lab.node_connection(node["address"], paths))
        times: dict[str, float] = {}
        if "one" in RUNS:
            times["one"] = timed_deploy(paths, nodes[:1], {}, "one")
            print(f"  onto 1 node: {times['one']:.0f} s", flush=True)

        def ratio(run: str) -> str:
            return f"  ratio {times[run] / times['one']:.2f}" if "one" in times else ""

        if "each" in RUNS:
            times["each"] = timed_deploy(paths, nodes, {"model_fetch_packages": False}, "each")
            print(f"  onto 3 nodes, each from the mirror: {times['each']:.0f} s{ratio('each')}", flush=True)
        if "fanned" in RUNS:
            times["fanned"] = timed_deploy(paths, nodes, {"model_fetch_from": nodes[0]["address"]}, "fanned")
            print(f"  onto 3 nodes, the first fetching once and serving the others: {times['fanned']:.0f} s"
                  f"{ratio('fanned')}  (aim: <= 1.3)", flush=True)
        if "bundle" in RUNS or "bundle1" in RUNS:
            made, bundle_size = make_bundle(nodes)
            print(f"  bundle made on this machine: {bundle_size / 1e9:.2f} GB in {made:.0f} s", flush=True)
            url = f"http://{GATEWAY}:{BUNDLE_PORT}/"
        # From inside the lab, no uplink in the way: what installing costs the nodes alone, on the one
        # machine the lab's nodes share.
        if "bundle1" in RUNS:
            times["bundle1"] = timed_deploy(paths, nodes[:1], {"bundle": url}, "bundle1")
            print(f"  onto 1 node from the bundle over the lab network: {times['bundle1']:.0f} s", flush=True)
        if "bundle" in RUNS:
            times["bundle"] = timed_deploy(paths, nodes, {"bundle": url}, "bundle")
            print(f"  onto 3 nodes from the bundle over the lab network: {times['bundle']:.0f} s"
                  f"{ratio('bundle')}", flush=True)
        return 0
    finally:
        lab.down(paths)


if __name__ == "__main__":
    sys.exit(main())
