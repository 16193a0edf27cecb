"""`make bench-weights`: how the deploy moves model weights, measured on lab nodes in one run.

1. Throughput: the deploy's download (the weights unit: a few files at a time, each checked
   against its sha256) against a plain parallel transfer of the same files with curl (as many at
   once, nothing checked), from the same local mirror, onto the same node.
2. Fan-out: the weights onto 3 nodes against onto 1, with the mirror behind one shared uplink
   (as the internet is for a lab): one node fetches and passes each file on over the lab network
   as soon as it has verified it; and, for comparison, all 3 fetching from the mirror themselves.
   The nodes are deployed once beforehand without these weights, so only the weights are measured.
3. Time to serve on one fresh node, phase by phase, with the download overlapped with the
   engine build (the default) and without (model_fetch_early: false).

Synthetic weights are made at run time (BENCH_WEIGHTS_FILES files of BENCH_WEIGHTS_MB each, plus
the tiny GGUF the engine serves). Each ratio is printed. BENCH_PARTS picks some of the three
(throughput,fan-out,time-to-serve). Leaves no node behind.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from glmstack.config import resolve_inventory
from glmstack.digests import sha256_of
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, TINY_MODEL, cpu_profile_data, models_dir, run_deploy
from glmstack.lab.serve import serve_directory
from glmstack.paths import REPO_ROOT
from roles.model.defaults import ModelSettings
from roles.model.operations import weights_unit

FILES = int(os.environ.get("BENCH_WEIGHTS_FILES", "32"))
FILE_MB = int(os.environ.get("BENCH_WEIGHTS_MB", "64"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
UPLINK = int(os.environ.get("BENCH_UPLINK_MBPS", "100")) * 1_000_000  # the mirror's shared uplink, bytes/s
# A link the deploy's hashing can keep up with on this machine: where the network, not the CPU, decides.
THROUGHPUT_LINK = int(os.environ.get("BENCH_LINK_MBPS", "400")) * 1_000_000
# Time to serve: the mirror slowed so the download takes about as long as the engine build.
SERVE_RATE = int(os.environ.get("BENCH_SERVE_MBPS", "40")) * 1_000_000
MIRROR = REPO_ROOT / ".bench" / "weights-mirror"


def make_mirror(paths: lab.LabPaths) -> dict[str, str]:
    """The tiny GGUF plus FILES synthetic shards; returns name -> sha256."""
    MIRROR.mkdir(parents=True, exist_ok=True)
    tiny = models_dir(paths) / TINY_MODEL
    (MIRROR / TINY_MODEL).write_bytes(tiny.read_bytes())
    for index in range(FILES):
        shard = MIRROR / f"shard-{index:05d}.safetensors"
        if not shard.exists() or shard.stat().st_size != FILE_MB << 20:
            with open(shard, "wb") as handle:
                for _ in range(FILE_MB):
                    handle.write(os.urandom(1 << 20))
    sums = {path.name: sha256_of(path) for path in sorted(MIRROR.iterdir()) if path.is_file()}
    for path in MIRROR.iterdir():  # into the page cache, so no run pays for the first read
        path.read_bytes()
    return sums


def unit_seconds(host, unit: str) -> tuple[float, float]:
    """When the weights unit's last run started and finished (epoch seconds, from the node's journal;
    lab nodes share this machine's clock). systemd forgets a finished oneshot unit's timestamps."""
    lines = host.check_output(f"journalctl -u {unit} -o short-unix --no-pager").splitlines()
    finished = [i for i, line in enumerate(lines) if f"Finished {unit}" in line]
    starts = [i for i, line in enumerate(lines) if f"Starting {unit}" in line and (not finished or i < finished[-1])]
    if not finished or not starts:
        raise SystemExit(f"no finished run of {unit} on {host.backend.hostname}; its journal:\n" + "\n".join(lines))
    return float(lines[starts[-1]].split()[0]), float(lines[finished[-1]].split()[0])


def bench_data(paths: lab.LabPaths, sums: dict[str, str], name: str, **extra) -> dict:
    return {**cpu_profile_data(paths, gateway=False), "model_source": f"http://10.213.0.1:{MODEL_PORT}",
            "model_files": sums,
            "model_entry": TINY_MODEL, "model_dir": f"/var/lib/glmstack/models/{name}", **extra}


def deploy(paths, data: dict, output: str, **serve) -> None:
    inventory = lab.write_inventory(paths, extra_data=data, output=REPO_ROOT / ".bench" / output)
    with serve_directory(MIRROR, port=MODEL_PORT, **serve):
        result = run_deploy(inventory)
    if result.returncode != 0:
        raise SystemExit(f"deploy {output} failed:\n{result.stderr[-3000:]}")


def throughput(paths, node, sums: dict[str, str], uplink: int | None = None) -> None:
    """Both ways on the same node from the same mirror; `uplink`: the mirror's link speed (bytes/s),
    None: as fast as this machine moves bytes (then CPU decides: the deploy also hashes every byte)."""
    host = lab.node_connection(node["address"], paths)
    serve = {"uplink": uplink} if uplink else {}
    total = sum((MIRROR / name).stat().st_size for name in sums)
    names = " ".join(sums)
    jobs = ModelSettings.model_fields["model_download_jobs"].default
    deploy_runs, plain_runs = [], []
    for repeat in range(REPEATS):
        data = bench_data(paths, sums, f"throughput-{repeat}")
        deploy(paths, data, f"throughput-{repeat}.py", **serve)
        plan = resolve_inventory(lab.inventory_hosts(paths, data))[0]
        start, end = unit_seconds(host, weights_unit(plan))
        deploy_runs.append(end - start)
        with serve_directory(MIRROR, port=MODEL_PORT, **serve):
            started = time.monotonic()
            host.run_expect([0], f"rm -rf /root/plain && mkdir /root/plain && cd /root/plain && "
                                 f"printf '%s\\n' {names} | xargs -P {jobs} -I{{}} "
                                 f"curl -fsS -o {{}} http://10.213.0.1:{MODEL_PORT}/{{}}")
            plain_runs.append(time.monotonic() - started)
        host.run(f"rm -rf /root/plain {plan.model.directory}")
    deployed, plain = statistics.median(deploy_runs), statistics.median(plain_runs)
    link = f"mirror behind a {uplink / 1e6:.0f} MB/s link" if uplink else "mirror unthrottled"
    print(f"throughput, {len(sums)} files, {total / 1e9:.2f} GB onto one node, {link}, medians of {REPEATS}:")
    print(f"  the deploy's download (weights unit, {jobs} at a time, sha256 checked): {deployed:.1f} s "
          f"= {total / deployed / 1e6:.0f} MB/s  (runs: {', '.join(f'{v:.1f}' for v in deploy_runs)})")
    print(f"  plain parallel curl ({jobs} at a time, nothing checked): {plain:.1f} s = {total / plain / 1e6:.0f} MB/s "
          f"(runs: {', '.join(f'{v:.1f}' for v in plain_runs)})")
    print(f"  ratio, deploy / plain throughput: {plain / deployed:.2f}  (aim: >= 0.9)")


def fan_out(paths, sums: dict[str, str]) -> None:
    lab.down(paths)
    nodes = lab.up(3, paths)
    hosts = [lab.node_connection(node["address"], paths) for node in nodes]
    total = sum((MIRROR / name).stat().st_size for name in sums)

    def weights_window(data: dict, targets: list) -> float:
        plan = resolve_inventory(lab.inventory_hosts(paths, data))[0]
        windows = [unit_seconds(host, weights_unit(plan)) for host in targets]
        first = min(start for start, _ in windows)
        print("    per node (s): " + ", ".join(f"{start - first:.1f} to {end - first:.1f}" for start, end in windows))
        return max(end for _, end in windows) - first

    # Every node first gets everything but these weights (packages, the engine build): on this one
    # machine the nodes share its cores, and three installs beside the download would be measured too.
    deploy(paths, bench_data(paths, {TINY_MODEL: sums[TINY_MODEL]}, "fan-warm"), "fan-warm.py")

    one = bench_data(paths, sums, "fan-one")
    single = REPO_ROOT / ".bench" / "fan-single.py"  # the first node alone
    single.write_text(f"from glmstack.inventory import group\n\nlab = group({lab.inventory_hosts(paths, one)[:1]!r})\n")
    with serve_directory(MIRROR, port=MODEL_PORT, uplink=UPLINK):
        result = run_deploy(single)
    if result.returncode != 0:
        raise SystemExit(f"single-node deploy failed:\n{result.stderr[-3000:]}")
    alone = weights_window(one, hosts[:1])

    shared = bench_data(paths, sums, "fan-shared", model_fetch_from=nodes[0]["address"])
    deploy(paths, shared, "fan-shared.py", uplink=UPLINK)
    fanned = weights_window(shared, hosts)

    each = bench_data(paths, sums, "fan-each")
    deploy(paths, each, "fan-each.py", uplink=UPLINK)
    separately = weights_window(each, hosts)
    print(f"fan-out, {total / 1e9:.2f} GB, mirror behind a {UPLINK / 1e6:.0f} MB/s uplink shared by the lab "
          "(from the first weights unit's start to the last one's end):")
    print(f"  onto 1 node: {alone:.1f} s")
    print(f"  onto 3 nodes, one fetching and passing them on: {fanned:.1f} s  ratio {fanned / alone:.2f}  "
          "(aim: <= 1.3)")
    print(f"  onto 3 nodes, each fetching from the mirror: {separately:.1f} s  ratio {separately / alone:.2f}")


def time_to_serve(paths, sums: dict[str, str]) -> None:
    print(f"time to serve on one fresh node, mirror at {SERVE_RATE / 1e6:.0f} MB/s per file "
          "(seconds from the start of the deploy):")
    for overlap in (True, False):
        lab.down(paths)
        node = lab.up(1, paths)[0]
        host = lab.node_connection(node["address"], paths)
        data = bench_data(paths, sums, "serve", model_fetch_early=overlap)
        inventory = lab.write_inventory(paths, extra_data=data, output=REPO_ROOT / ".bench" / "serve.py")
        started = time.time()
        with serve_directory(MIRROR, port=MODEL_PORT, rate=SERVE_RATE):
            result = run_deploy(inventory)
        serving = time.time()  # the deploy ends once the engine answers /health
        if result.returncode != 0:
            raise SystemExit(f"deploy failed:\n{result.stderr[-3000:]}")
        plan = resolve_inventory(lab.inventory_hosts(paths, data))[0]
        weights = unit_seconds(host, weights_unit(plan))
        built = float(host.check_output(f"stat -c %Y {plan.llamacpp.install_dir}/BUILD-INFO"))
        label = "overlapped (default)" if overlap else "one after the other (model_fetch_early: false)"
        print(f"  {label}: weights {weights[0] - started:.0f} to {weights[1] - started:.0f}, "
              f"engine built at {built - started:.0f}, serving at {serving - started:.0f}")


def main() -> int:
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        sums = make_mirror(paths)
        print(f"mirror: {len(sums)} files, {sum((MIRROR / n).stat().st_size for n in sums) / 1e9:.2f} GB", flush=True)
        parts = os.environ.get("BENCH_PARTS", "throughput,fan-out,time-to-serve").split(",")
        if "throughput" in parts:
            node = lab.up(1, paths)[0]
            throughput(paths, node, sums)
            throughput(paths, node, sums, uplink=THROUGHPUT_LINK)
        if "fan-out" in parts:
            fan_out(paths, sums)
        if "time-to-serve" in parts:
            time_to_serve(paths, sums)
        return 0
    finally:
        lab.down(paths)
        subprocess.run(["rm", "-rf", str(MIRROR)], check=False)


if __name__ == "__main__":
    sys.exit(main())
