"""A lab with no route out deploys the CPU profile from a bundle made on this machine, then a second run
changes nothing.

The lab's NAT is removed (glmstack lab up --no-route-out): a node reaches this machine and nothing else,
which the first test proves against the package index's own address. The bundle (glmstack bundle) is made
here for the lab's inventory and kept in the lab cache: a rerun reuses its parts and downloads nothing.
It is made with --weights: the tiny GGUF comes from the bundle too, and nothing serves the model's mirror
while the node deploys.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from glmstack.bundle import verify_bundle
from glmstack.bundling import make_bundle
from glmstack.config import resolve
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, TINY_MODEL, cpu_profile_data, models_dir, run_deploy
from glmstack.lab.serve import serve_directory
from glmstack.uv import DEFAULT_INDEX

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def offline_lab():
    paths = lab.LabPaths.from_env()
    lab.down(paths)  # a lab left behind by an interrupted run must not leak into this one
    try:
        node = lab.up(1, paths, route_out=False)[0]
        data = cpu_profile_data(paths)
        plain = lab.write_inventory(paths, extra_data=data, output=paths.state_dir / "bundle-source-inventory.py")
        out = paths.cache_dir / "bundle-cpu"
        started = time.monotonic()
        # --weights: the model's mirror (the lab's own, on this machine) is read here, once, never by the node.
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            make_bundle(plain, out, cache=paths.cache_dir / "bundle-downloads", weights=True, log=lambda line: None)
        seconds = time.monotonic() - started
        inventory = lab.write_inventory(paths, extra_data={**data, "bundle": str(out)})
        yield {"paths": paths, "node": node, "inventory": inventory, "bundle": out, "bundle_seconds": seconds,
               "data": {**data, "bundle": str(out)}}
    finally:
        lab.down(paths)


@pytest.fixture(scope="module")
def first_deploy(offline_lab):
    # The model's mirror is not served: the weights can only come from the bundle.
    return run_deploy(offline_lab["inventory"])


def node(offline_lab):
    return lab.node_connection(offline_lab["node"]["address"], offline_lab["paths"])


def test_the_node_has_no_route_out(offline_lab):
    index_host = urlsplit(DEFAULT_INDEX).hostname
    address = next(info[4][0] for info in socket.getaddrinfo(index_host, 443, socket.AF_INET))
    probe = node(offline_lab).run(f"curl -sS -o /dev/null --max-time 10 -k https://{address}/simple/")
    assert probe.rc != 0, f"the node reached {index_host} ({address}): {probe.stdout}"
    # ... while the lab's own machine answers it (the model server's port is served during the deploy).
    assert node(offline_lab).run("ip route show default").stdout.strip()


def test_the_bundle_is_whole_and_small(offline_lab):
    document = verify_bundle(offline_lab["bundle"])
    host = document["hosts"][offline_lab["node"]["address"]]
    assert host["apt_repos"] and host["llamacpp_source"] and host["weights"]
    assert f"{host['weights']}/{TINY_MODEL}" in document["files"]
    size = sum(entry["size"] for entry in document["files"].values())
    seconds = offline_lab["bundle_seconds"]
    print(f"\nbundle: {len(document['files'])} files, {size / 1e6:.0f} MB, made in {seconds:.0f} s")
    assert size < 600e6


def test_deploy_from_the_bundle_converges(offline_lab, first_deploy):
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    assert not first_deploy.failed_operations
    changed = first_deploy.changed_operations
    for step in ("glmstack base | Bundle files for this host", "glmstack base | Bundle apt sources",
                 "glmstack llama.cpp | Build llama-server", "glmstack service | Run llama-server"):
        assert any(name.startswith(step) for name in changed), f"{step} did not run: {changed}"
    # apt on the node reads only the bundle's mirrors.
    targets = node(offline_lab).check_output("apt-get indextargets --format '$(URI)'")
    assert targets and all(line.startswith("file:/opt/glmstack/bundle/apt/") for line in targets.splitlines()), targets
    # And the engine built from the bundle's llama.cpp serves.
    plan = resolve(offline_lab["node"]["address"], offline_lab["data"])
    node(offline_lab).run_expect([0], f"systemctl is-active {plan.unit_name}.service")
    node(offline_lab).run_expect([0], f"curl -fsS -o /dev/null --max-time 10 {plan.health_url}")
    # The model file is the bundle's (one inode: linked, not copied), with the pinned sum, marked ready.
    part = verify_bundle(offline_lab["bundle"])["hosts"][offline_lab["node"]["address"]]["weights"]
    model = f"{plan.model.directory}/{TINY_MODEL}"
    node(offline_lab).run_expect([0], f"test {model} -ef /opt/glmstack/bundle/{part}/{TINY_MODEL}")
    assert node(offline_lab).check_output(f"sha256sum {model}").split()[0] == offline_lab["data"]["model_files"][
        TINY_MODEL]
    assert node(offline_lab).check_output(f"cat /var/lib/glmstack/models/{plan.config.model}.ready").strip() == \
        plan.model.fingerprint


def test_second_deploy_from_the_bundle_changes_nothing(offline_lab, first_deploy):
    assert first_deploy.returncode == 0
    second = run_deploy(offline_lab["inventory"])
    assert second.returncode == 0, second.stderr[-4000:]
    assert second.results["totals"]["success"] == 0, f"changed on rerun: {second.changed_operations}"


def test_a_bundle_served_over_http_is_fetched_by_the_node(offline_lab, first_deploy):
    """The same bundle from a URL on the lab network: the node fetches and checks its files itself."""
    assert first_deploy.returncode == 0
    node(offline_lab).run_expect([0], "rm -rf /opt/glmstack/bundle")
    paths = offline_lab["paths"]
    with serve_directory(offline_lab["bundle"]) as url:
        inventory = lab.write_inventory(paths, extra_data={**offline_lab["data"], "bundle": url},
                                        output=paths.state_dir / "url-inventory.py")
        fetched = run_deploy(inventory)
    assert fetched.returncode == 0, fetched.stderr[-4000:]
    assert fetched.changed_operations == ["glmstack base | Bundle files for this host"], fetched.changed_operations
    document = verify_bundle(offline_lab["bundle"])
    host = document["hosts"][offline_lab["node"]["address"]]
    wanted = [path for path in document["files"] if any(path.startswith(part) for part in
                                                         [f"apt/{repo}/" for repo in host["apt_repos"]]
                                                         + [host["llamacpp_source"], host["weights"] + "/"])]
    verified = node(offline_lab).check_output("cat /opt/glmstack/bundle/.verified").splitlines()
    assert sorted(line.split("  ", 1)[1] for line in verified) == sorted(wanted)


def test_an_altered_file_stops_the_deploy_naming_it(offline_lab, first_deploy):
    assert first_deploy.returncode == 0
    document = verify_bundle(offline_lab["bundle"])
    tarball = offline_lab["bundle"] / document["hosts"][offline_lab["node"]["address"]]["llamacpp_source"]
    original = tarball.read_bytes()
    tarball.unlink()  # a file of its own: the bundle's .debs are links into the download cache
    tarball.write_bytes(original + b"x")
    try:
        refused = run_deploy(offline_lab["inventory"])
    finally:
        tarball.unlink()
        tarball.write_bytes(original)
    assert refused.returncode != 0
    assert (f"field bundle: {offline_lab['bundle']}: file {tarball.relative_to(offline_lab['bundle'])} does not "
            "match the manifest's sha256") in refused.stderr + refused.stdout
