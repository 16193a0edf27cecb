"""`glmstack bundle --weights`: each model's pinned files in the bundle, checked against host data's
model_files (a mirror) or the lock's sums (a hub), downloaded once into the cache, one copy for the
hosts sharing a model; and a host taking them from its bundle: placed by a hard link, checked against
the same sums, marked ready as after a download. Mirrors and hubs are served on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR
from test_shellcheck import excluded

from glmstack.bundle import MANIFEST, BundleError, HostNeeds, file_entries, host_needs, read_manifest, write_manifest
from glmstack.bundle_weights import (
    PinnedFile,
    bundled_files,
    inventory_problems,
    pinned_files,
    weights_part,
    write_weights,
)
from glmstack.cli import main
from glmstack.config import resolve, resolve_inventory
from glmstack.hostdata import InventoryError
from glmstack.lab.hub import serve_hub
from glmstack.lab.modelscope import serve_modelscope
from glmstack.lab.serve import serve_directory
from glmstack.planning import plan_inventory
from roles.model.operations import fetch_script, weights_unit_text

BLOB = b"GGUF tiny weights " * 1000
SUM = hashlib.sha256(BLOB).hexdigest()
REPO = "lab-org/tiny-gguf"
SHARDS = ["Q2/tiny-Q2-00001-of-00002.gguf", "Q2/tiny-Q2-00002-of-00002.gguf"]


def mirror_inventory(path: Path, url: str, files: dict[str, str], hosts=("node-1", "node-2")) -> Path:
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_source": url,
            "model_files": files, "max_model_len": 4096}
    args = ", ".join(f"{key}={value!r}" for key, value in data.items())
    members = ", ".join(f"({name!r}, {{}})" for name in hosts)
    path.write_text(f"from glmstack.inventory import group\n\nlab = group([{members}], {args})\n")
    return path


@pytest.fixture
def mirror(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "tiny.gguf").write_bytes(BLOB)
    with serve_directory(site, address="127.0.0.1") as url:
        yield url


def test_a_mirrors_weights_are_bundled_once_for_the_hosts_sharing_them_and_linked_to_the_cache(mirror, tmp_path):
    inventory = mirror_inventory(tmp_path / "lab.py", mirror, {"tiny.gguf": SUM})
    plans = plan_inventory(inventory)
    out, cache, lines = tmp_path / "out", tmp_path / "cache", []
    hosts, known = write_weights(out, plans, cache, str(inventory), lines.append)
    part = weights_part("glm-5.2-gguf", [PinnedFile("tiny.gguf", SUM)])
    assert hosts == {"node-1": part, "node-2": part}  # one copy for both
    bundled = out / part / "tiny.gguf"
    assert bundled.read_bytes() == BLOB and os.path.samefile(bundled, cache / "weights" / "sha256" / SUM)
    assert known == {f"{part}/tiny.gguf": {"sha256": SUM, "size": len(BLOB)}}
    assert lines == ["weights: glm-5.2-gguf, 1 files, checked against host data's model_files"]
    # Its sum is taken for the manifest without reading the file again, and it is the right one.
    assert file_entries(out, known)[f"{part}/tiny.gguf"]["sha256"] == SUM


def test_a_second_run_downloads_nothing(mirror, tmp_path):
    inventory = mirror_inventory(tmp_path / "lab.py", mirror, {"tiny.gguf": SUM})
    write_weights(tmp_path / "out", plan_inventory(inventory), tmp_path / "cache", str(inventory), print)
    # The mirror is gone (another port): the cache alone answers.
    again = mirror_inventory(tmp_path / "lab.py", "http://127.0.0.1:9", {"tiny.gguf": SUM})
    hosts, _ = write_weights(tmp_path / "out2", plan_inventory(again), tmp_path / "cache", str(again), print)
    assert (tmp_path / "out2" / hosts["node-1"] / "tiny.gguf").read_bytes() == BLOB


def test_a_file_whose_sum_does_not_match_stops_it_in_one_line_and_is_not_kept(mirror, tmp_path):
    inventory = mirror_inventory(tmp_path / "lab.py", mirror, {"tiny.gguf": "0" * 64})
    with pytest.raises(BundleError) as error:
        write_weights(tmp_path / "out", plan_inventory(inventory), tmp_path / "cache", str(inventory), print)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"weights glm-5.2-gguf: tiny.gguf from {mirror} does not match host data's "
                              "model_files; removed: run glmstack bundle again")
    assert not list((tmp_path / "cache" / "weights" / "sha256").iterdir())


@pytest.fixture
def hub(tmp_path):
    root = tmp_path / "hub"
    (root / REPO / "Q2").mkdir(parents=True)
    for index, name in enumerate(SHARDS):
        (root / REPO / name).write_bytes(bytes([index]) * 4096)
    (root / REPO / "Q2" / "notes.txt").write_text("small file outside LFS\n")
    with serve_hub(root, address="127.0.0.1") as (url, repos):
        yield root, url


def hub_inventory(path: Path, endpoint: str) -> Path:
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_source": f"hf://{REPO}",
            "model_hf_endpoint": endpoint, "model_include": ["Q2/*"], "max_model_len": 4096}
    args = ", ".join(f"{key}={value!r}" for key, value in data.items())
    path.write_text(f"from glmstack.inventory import group\n\nlab = group([('node-1', {{}})], {args})\n")
    return path


def test_a_hub_model_is_fetched_by_the_hub_client_and_checked_against_the_lock(hub, tmp_path):
    root, url = hub
    inventory = hub_inventory(tmp_path / "lab.py", url)
    with pytest.raises(BundleError) as error:
        write_weights(tmp_path / "out", plan_inventory(inventory), tmp_path / "cache", str(inventory), print)
    assert str(error.value) == (f"host node-1: field model_revision: hf://{REPO} (glm-5.2-gguf) has no pinned sums "
                                f"to check the weights with; run glmstack lock {inventory} first")
    assert main(["lock", str(inventory)]) == 0
    hosts, known = write_weights(tmp_path / "out", plan_inventory(inventory), tmp_path / "cache", str(inventory),
                                 print)
    part = hosts["node-1"]
    for name in [*SHARDS, "Q2/notes.txt"]:  # the small file is pinned by its git blob id
        assert (tmp_path / "out" / part / name).read_bytes() == (root / REPO / name).read_bytes()
    assert sorted(path.split("/", 2)[2] for path in known) == sorted([*SHARDS, "Q2/notes.txt"])
    # A shard changed on the hub after the lock: refused, not bundled.
    (root / REPO / SHARDS[1]).write_bytes(b"\x07" * 4096)
    with pytest.raises(BundleError, match="does not match the lock's sums"):
        write_weights(tmp_path / "out3", plan_inventory(inventory), tmp_path / "cache3", str(inventory), print)


def make_weights_bundle(root: Path, data: dict, host: str = "n") -> str:
    plan = resolve(host, data)
    part = weights_part(plan.config.model, pinned_files(plan.model))
    (root / part).mkdir(parents=True)
    (root / part / "tiny.gguf").write_bytes(BLOB)
    write_manifest(root, "inv.py", {host: HostNeeds(weights=part)})
    return part


def test_a_bundle_whose_weights_are_not_the_pinned_ones_is_refused_when_the_inventory_loads(tmp_path):
    data = {**CPU_MIRROR, "model_files": {"tiny.gguf": SUM}}
    make_weights_bundle(tmp_path, data)
    [plan] = resolve_inventory([("n", {**data, "bundle": str(tmp_path)})])
    assert plan.config.bundle == str(tmp_path)
    changed = {**data, "model_files": {"tiny.gguf": "ab" * 32}, "bundle": str(tmp_path)}
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("n", changed)])
    assert str(error.value).startswith("host n: field bundle: its weights are weights/glm-5.2-gguf-")
    assert str(error.value).endswith("host data pins other files or sums now (model_files or the lock changed since "
                                     "it was made); make it again with glmstack bundle INVENTORY OUT --weights")


def test_a_manifest_with_another_sum_for_a_pinned_file_is_refused(tmp_path):
    data = {**CPU_MIRROR, "model_files": {"tiny.gguf": SUM}}
    part = make_weights_bundle(tmp_path, data)
    document = read_manifest(tmp_path)
    document["files"][f"{part}/tiny.gguf"]["sha256"] = "cd" * 32
    [problem] = inventory_problems([resolve("n", data)]) or [None]  # no bundle in host data: nothing to check
    assert problem is None
    with pytest.raises(BundleError, match=f"{part}/tiny.gguf: the manifest's sha256 is not the pinned one"):
        bundled_files(resolve("n", data), document, host_needs(document, "n").weights)


STATE, PREFIX = "/var/lib/glmstack", "/opt/glmstack"


def on_scratch(tmp_path: Path, script: str) -> Path:
    """The script with the host's state dir and prefix moved under tmp_path (glmstack refuses /tmp for them)."""
    path = tmp_path / f"fetch-{len(list(tmp_path.glob('fetch-*')))}.sh"
    path.write_text(script.replace(STATE, str(tmp_path / "state")).replace(PREFIX, str(tmp_path / "prefix")))
    (tmp_path / "state" / "models").mkdir(parents=True, exist_ok=True)
    stubs = tmp_path / "stubs"  # root's part: chown to the weights user, systemctl
    stubs.mkdir(exist_ok=True)
    for tool in ("chown", "systemctl"):
        (stubs / tool).write_text("#!/bin/sh\nexit 0\n")
        (stubs / tool).chmod(0o755)
    return path


def run_step(script: Path, step: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{script.parent / 'stubs'}:/usr/bin:/bin"}
    return subprocess.run(["bash", str(script), step], capture_output=True, text=True, env=env, timeout=60)


def test_a_host_takes_its_weights_from_the_bundle_by_a_hard_link_checked_and_marked_ready(tmp_path):
    """The weights unit's three steps run for real with bash (chown and systemctl stubbed)."""
    data = {**CPU_MIRROR, "model_files": {"tiny.gguf": SUM}}
    bundle_on_host = tmp_path / "prefix" / "bundle"
    part = make_weights_bundle(bundle_on_host, data)
    plan = resolve("n", data)
    bundled = {"directory": f"{PREFIX}/bundle/{part}", "files": [{"name": "tiny.gguf", "sha256": SUM,
                                                                  "git_blob": None}]}
    rendered = fetch_script(plan, bundled)
    fetch_step = rendered.split("\nfetch)", 1)[1].split(";;", 1)[0]
    assert "base=" not in fetch_step and 'fetch "$name"' not in fetch_step  # no source: nothing downloaded
    script = on_scratch(tmp_path, rendered)
    for step in ("prepare", "fetch", "finish"):
        result = run_step(script, step)
        assert result.returncode == 0, (step, result.stderr)
    directory = tmp_path / "state" / "models" / "glm-5.2-gguf"
    model, copy = directory / "tiny.gguf", bundle_on_host / part / "tiny.gguf"
    assert os.path.samefile(model, copy)  # one copy of the bytes on the host
    marker = tmp_path / "state" / "models" / "glm-5.2-gguf.ready"
    assert marker.read_text().strip() == plan.model.fingerprint  # as after a download
    assert (directory / ".cache/glmstack/manifest").read_text() == f"{SUM}  tiny.gguf\n"
    # A rerun has nothing to do.
    assert run_step(script, "prepare").returncode == 0 and os.path.samefile(model, copy)
    # An altered copy is not taken.
    marker.unlink()
    model.unlink()
    copy.write_bytes(BLOB + b"x")
    assert run_step(script, "prepare").returncode == 0
    failed = run_step(script, "fetch")
    assert failed.returncode == 1 and "sha256 mismatch for tiny.gguf (from the bundle)" in failed.stderr


def test_a_small_hub_file_is_checked_by_its_git_blob_id_too(tmp_path):
    plan = resolve("n", {**CPU_MIRROR, "model_files": {"tiny.gguf": SUM}})
    blob = hashlib.sha1(b"blob %d\0" % len(BLOB) + BLOB).hexdigest()  # noqa: S324 - git's id
    (tmp_path / "prefix" / "b").mkdir(parents=True)
    (tmp_path / "prefix" / "b" / "tiny.gguf").write_bytes(BLOB)
    results = {}
    for wanted in (blob, "0" * 40):
        script = on_scratch(tmp_path, fetch_script(plan, {"directory": f"{PREFIX}/b", "files": [
            {"name": "tiny.gguf", "sha256": SUM, "git_blob": wanted}]}))
        results[wanted] = [run_step(script, step).returncode for step in ("prepare", "fetch")]
    assert results == {blob: [0, 0], "0" * 40: [0, 1]}


def test_from_a_bundle_the_hub_client_and_its_token_are_left_out(tmp_path):
    token = tmp_path / "token"
    token.write_text("hf_secret")
    token.chmod(0o600)
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_revision": "a" * 40,
            "model_entry": "Q2/x-00001-of-00002.gguf", "model_hf_token_file": str(token)}
    plan = resolve("n", data)
    bundled = {"directory": "/opt/glmstack/bundle/weights/x", "files": [{"name": "Q2/x-00001-of-00002.gguf",
                                                                         "sha256": SUM, "git_blob": None}]}
    assert "LoadCredential=" in weights_unit_text(plan) and "LoadCredential=" not in weights_unit_text(plan, bundled)
    script = fetch_script(plan, bundled)
    assert "/bin/hf download" not in script and "pip install" not in script and "verify_hub" not in script
    assert "place Q2/x-00001-of-00002.gguf" in script


def test_the_bundled_weights_script_passes_shellcheck(tmp_path):
    plan = resolve("n", {**CPU_MIRROR, "model_fetch_from": "n"})
    path = tmp_path / "weights.sh"
    path.write_text(fetch_script(plan, {"directory": "/opt/glmstack/bundle/weights/x",
                                        "files": [{"name": "tiny.gguf", "sha256": SUM, "git_blob": "ab" * 20}]}))
    checked = subprocess.run(["shellcheck", "-s", "bash", "-S", "warning", *excluded("fetch-weights"), str(path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_the_manifest_carries_the_hosts_weights_part(tmp_path):
    (tmp_path / "weights/m-1").mkdir(parents=True)
    (tmp_path / "weights/m-1/a.gguf").write_bytes(BLOB)
    write_manifest(tmp_path, "inv.py", {"n": HostNeeds(weights="weights/m-1")})
    document = json.loads((tmp_path / MANIFEST).read_text())
    assert document["hosts"]["n"]["weights"] == "weights/m-1"
    assert document["files"]["weights/m-1/a.gguf"]["sha256"] == SUM


def test_a_host_receiving_the_weights_from_another_gets_none_in_the_bundle(mirror, tmp_path):
    """model_fetch_from: node-1 fetches for node-2. Only node-1 takes them from the bundle; node-2 still
    receives them from node-1 over the lab network, as without a bundle."""
    inventory = mirror_inventory(tmp_path / "lab.py", mirror, {"tiny.gguf": SUM})
    text = inventory.read_text().replace("max_model_len=4096", "max_model_len=4096, model_fetch_from='node-1'")
    inventory.write_text(text)
    plans = plan_inventory(inventory)
    assert [plan.weights_seed for plan in plans] == [None, "node-1"]
    hosts, _ = write_weights(tmp_path / "out", plans, tmp_path / "cache", str(inventory), print)
    assert list(hosts) == ["node-1"]


def test_a_modelscope_model_is_fetched_by_its_clients_route_and_checked_against_the_lock(tmp_path):
    root = tmp_path / "hub"
    (root / REPO / "Q2").mkdir(parents=True)
    for index, name in enumerate(SHARDS):
        (root / REPO / name).write_bytes(bytes([index + 3]) * 4096)
    with serve_modelscope(root, address="127.0.0.1") as (url, _):
        inventory = hub_inventory(tmp_path / "lab.py", url)
        inventory.write_text(inventory.read_text().replace(f"hf://{REPO}", f"modelscope://{REPO}").replace(
            "model_hf_endpoint=", "model_modelscope_endpoint="))
        assert main(["lock", str(inventory)]) == 0
        hosts, known = write_weights(tmp_path / "out", plan_inventory(inventory), tmp_path / "cache",
                                     str(inventory), print)
    for name in SHARDS:
        assert (tmp_path / "out" / hosts["node-1"] / name).read_bytes() == (root / REPO / name).read_bytes()
    assert len(known) == len(SHARDS)
