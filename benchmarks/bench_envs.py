"""`make bench-envs`: the real vLLM engine environment onto three lab nodes, with and without the
once-per-lab fan-out (roles/model/fanout.py), behind one throttled uplink the lab shares.

The package index stands in as a local mirror (a flat directory of the environment's wheels, made
once on this machine with its own pip and kept under ~/.cache/glmstack-bench-envs), served behind
one Uplink of BENCH_UPLINK_MBPS as `make bench-weights` serves the weights; the nodes' pip and uv are
pointed at it alone (/etc/pip.conf, /etc/uv/uv.toml). Three runs, each from empty environments and
empty uv caches:

1. one node alone installs the environment (deploys/engine_envs.py);
2. three nodes, each from the mirror (model_fetch_packages: false);
3. three nodes, the first fetching the wheels once and the others installing from it.

Prints each time (from the deploy's start to its end) and the ratios of three nodes to one (aim for
the fan-out: <= 1.3). Heavy: several GB onto each node. Leaves no node behind.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from glmstack.config import resolve
from glmstack.lab import lab
from glmstack.lab.network import GATEWAY
from glmstack.lab.profile import run_deploy
from glmstack.lab.serve import serve_directory
from glmstack.paths import REPO_ROOT
from glmstack.uv import UV_PACKAGE

UPLINK = int(os.environ.get("BENCH_UPLINK_MBPS", "100")) * 1_000_000  # bytes/s, shared by every transfer
MIRROR_PORT = 8096
DATA = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm", "lab_engines": ["vllm"]}
MIRROR = Path(os.environ.get("BENCH_ENVS_MIRROR", Path.home() / ".cache" / "glmstack-bench-envs" / "mirror"))


def make_mirror() -> int:
    """The environment's wheels (with their dependencies, for Debian 12's Python, as the nodes' is)
    and uv's, as a flat directory; returns its size in bytes."""
    env = resolve("bench", {k: v for k, v in DATA.items() if k != "lab_engines"}).engine_env
    MIRROR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "-d", str(MIRROR),
                    *env.requirements, UV_PACKAGE], check=True)
    return sum(path.stat().st_size for path in MIRROR.iterdir() if path.is_file())


def point_at_mirror(host) -> None:
    """The node's pip and uv take packages from the mirror alone; their caches start empty."""
    url = f"http://{GATEWAY}:{MIRROR_PORT}/"
    pip = f"[global]\nno-index = true\nfind-links = {url}\ncert = /etc/ssl/certs/ca-certificates.crt\n"
    uv = f'no-index = true\nfind-links = ["{url}"]\n'
    host.run_expect([0], f"printf %s {shlex.quote(pip)} > /etc/pip.conf && mkdir -p /etc/uv && "
                         f"printf %s {shlex.quote(uv)} > /etc/uv/uv.toml")


def clean(host) -> None:
    host.run_expect([0], "rm -rf /opt/glmstack/venvs /var/lib/glmstack/downloads /root/.cache/uv /root/.cache/pip")


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
    started = time.monotonic()
    with serve_directory(MIRROR, port=MIRROR_PORT, uplink=UPLINK):
        result = run_deploy(inventory, deploy="engine_envs.py")
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"deploy {name} failed:\n{result.stderr[-3000:]}")
    return elapsed


def main() -> int:
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        size = make_mirror()
        print(f"mirror: {size / 1e9:.2f} GB of wheels, behind one {UPLINK / 1e6:.0f} MB/s uplink", flush=True)
        nodes = lab.up(3, paths)
        alone = timed_deploy(paths, nodes[:1], {}, "one")
        print(f"  onto 1 node: {alone:.0f} s", flush=True)
        each = timed_deploy(paths, nodes, {"model_fetch_packages": False}, "each")
        print(f"  onto 3 nodes, each from the mirror: {each:.0f} s  ratio {each / alone:.2f}", flush=True)
        fanned = timed_deploy(paths, nodes, {"model_fetch_from": nodes[0]["address"]}, "fanned")
        print(f"  onto 3 nodes, the first fetching once and serving the others: {fanned:.0f} s  "
              f"ratio {fanned / alone:.2f}  (aim: <= 1.3)", flush=True)
        print("  from a bundle: not measured here (glmstack bundle is another branch's; see docs)")
        return 0
    finally:
        lab.down(paths)


if __name__ == "__main__":
    sys.exit(main())
