"""Weights from hub endpoints on the lab network, fetched by the hubs' real clients on the node,
with a token: verified against the hub's sums, resumed after a kill, repaired after corruption,
and the token never shown. Hugging Face's huggingface_hub (HF_ENDPOINT) and ModelScope's
modelscope client (MODELSCOPE_ENDPOINT).

The repository is made at test time: the tiny GGUF the engine serves plus synthetic safetensors
shards (GLMSTACK_WEIGHTS_SHARD_MB each, 96 by default) and their index, so the clients move real
volume. The endpoints are glmstack.lab.hub and glmstack.lab.modelscope, which answer the routes
the clients use, from the same files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time

import pytest

from glmstack.config import resolve
from glmstack.digests import sha256_of
from glmstack.lab import lab, leaks
from glmstack.lab.exposure import exposure
from glmstack.lab.hub import scan_repositories, serve_hub
from glmstack.lab.modelscope import serve_modelscope
from glmstack.lab.network import GATEWAY
from glmstack.lab.profile import TINY_MODEL, cpu_profile_data, models_dir, run_deploy, start_deploy
from roles.model.operations import fetch_lock, ready_marker, weights_unit
from roles.service.operations import curl_as_client

pytestmark = pytest.mark.lab
HUB_PORT = 8098
MODELSCOPE_PORT = 8096
REPO = "lab/glm-5.2-tiny"
SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
SHARD_BYTES = int(os.environ.get("GLMSTACK_WEIGHTS_SHARD_MB", "96")) * 1024 * 1024


def make_repository(root, paths) -> None:
    repo = root / REPO
    repo.mkdir(parents=True)
    shutil.copy(models_dir(paths) / TINY_MODEL, repo / TINY_MODEL)
    for name in SHARDS:
        with open(repo / name, "wb") as handle:
            for _ in range(SHARD_BYTES // (8 << 20)):
                handle.write(os.urandom(8 << 20))
    (repo / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {f"layer.{i}": name for i, name in enumerate(SHARDS)}}))
    (repo / "config.json").write_text(json.dumps({"model_type": "glm_moe_dsa"}))


@pytest.fixture(scope="module")
def hub_node(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    root = tmp_path_factory.mktemp("hub")
    lab.down(paths)
    try:
        node = lab.up(1, paths)[0]
        base = cpu_profile_data(paths, gateway=False)
        make_repository(root, paths)
        token = root / "hf-token"
        token.write_text(f"hf_lab{secrets.token_hex(16)}\n")
        token.chmod(0o600)
        data = {**base, "model_source": f"hf://{REPO}", "model_revision": scan_repositories(root)[REPO].commit,
                "model_entry": TINY_MODEL, "model_files": {}, "model_include": [],
                "model_hf_endpoint": f"http://{GATEWAY}:{HUB_PORT}", "model_hf_token_file": str(token)}
        yield {"paths": paths, "node": node, "root": root, "data": data, "token": token.read_text().strip(),
               "host": lab.node_connection(node["address"], paths)}
    finally:
        lab.down(paths)


def deploy(hub_node, name: str, data_changes: dict | None = None) -> tuple:
    data = {**hub_node["data"], **(data_changes or {})}
    inventory = lab.write_inventory(hub_node["paths"], extra_data=data,
                                    output=hub_node["root"].parent / f"{name}.py")
    return data, inventory


def repository_files(hub_node) -> dict[str, str]:
    repo = hub_node["root"] / REPO
    return {path.name: sha256_of(path) for path in repo.iterdir()}


def test_hub_download_is_verified_served_and_keeps_the_token_secret(hub_node):
    host, data = hub_node["host"], hub_node["data"]
    _, inventory = deploy(hub_node, "hub")
    requests: list = []
    with leaks.process_samples(host):
        with serve_hub(hub_node["root"], port=HUB_PORT, token=hub_node["token"], requests=requests):
            first = run_deploy(inventory, options=("--diff", "-vvv"))
        second = run_deploy(inventory, options=("--diff", "-vvv"))
    assert first.returncode == 0, first.stderr[-4000:]
    assert second.results["totals"]["success"] == 0, second.changed_operations

    plan = resolve(hub_node["node"]["address"], data)
    for name, digest in repository_files(hub_node).items():
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest, name
    assert host.file(ready_marker(plan)).content_string.strip() == plan.model.fingerprint
    journal = host.check_output(f"journalctl -u {weights_unit(plan)} --no-pager -o cat")
    assert f"verified {len(SHARDS) + 3} files against the hub's sums" in journal
    served = host.check_output(curl_as_client(plan, f"http://127.0.0.1:{plan.port}/v1/models"))
    assert plan.served_model_name in served
    # The hub saw the token on every repository request, so the client read it from its file.
    repository_requests = [r for r in requests if r[1].startswith((f"/api/models/{REPO}", f"/{REPO}/"))]
    assert repository_requests and all(authorized for _, _, authorized in repository_requests), requests

    places = leaks.places(host, [weights_unit(plan), f"{plan.unit_name}.service"],
                          [run.stdout + run.stderr for run in (first, second)])
    # The sampler caught the download itself, the moment the token is in use.
    assert "hf download" in places["process list"]
    leaks.assert_absent({"the hub token": hub_node["token"]}, places)
    token_file = host.file("/etc/glmstack/hf-token")
    assert (token_file.user, token_file.mode) == ("root", 0o600)
    assert_sandboxed_like_the_engine(host, plan, "hf")


def assert_sandboxed_like_the_engine(host, plan, kind: str) -> None:
    """The weights unit's exposure (systemd's own score, on the node) within 0.5 of the engine
    unit's; the client ran as the weights user, and the engine can read the files but not change them."""
    scores = {"engine": exposure(host, f"{plan.unit_name}.service"),
              f"weights ({kind})": exposure(host, weights_unit(plan))}
    print("systemd-analyze security:", scores)
    assert scores[f"weights ({kind})"] <= scores["engine"] + 0.5, scores
    shard = host.file(f"{plan.model.directory}/{SHARDS[0]}")
    assert (shard.user, shard.group, shard.mode) == ("glmstack-weights", "glmstack", 0o640)


def bytes_on_disk(host, plan) -> int:
    return int(host.check_output(f"du -sb {plan.model.directory} 2>/dev/null | cut -f1") or 0)


def kill_a_third_of_the_way(host, plan, inventory, total: int) -> dict[str, int]:
    """Start a deploy, kill it and the node's fetch once a third of the bytes are on the node, and
    return the files left there (name: size; the clients' metadata aside)."""
    process = start_deploy(inventory)
    deadline = time.monotonic() + 300
    while bytes_on_disk(host, plan) < total // 3:
        assert time.monotonic() < deadline and process.poll() is None, "the download never got going"
        time.sleep(0.5)
    process.kill()
    process.wait()
    # As if the host lost the fetch too: freeze its process tree, parents first, then kill it.
    pid = host.check_output(f"cat {fetch_lock(plan)}")
    host.run_expect([0], "stop_tree() { kill -STOP $1 2>/dev/null || return 0; echo $1; "
                         "for c in $(pgrep -P $1); do stop_tree $c; done; }; "
                         f"kill -KILL $(stop_tree {pid})")
    time.sleep(1)
    listing = host.check_output(f"cd {plan.model.directory} && "
                                "find . -path ./.cache -prune -o -type f -printf '%P %s\\n'")
    return {name: int(size) for name, size in (line.split() for line in listing.splitlines())}


def test_download_killed_midway_keeps_completed_files_and_fetches_only_the_rest(hub_node):
    """huggingface_hub 2.4.0 keeps every finished file but restarts a file cut off mid-way (it
    downloads into a per-process temporary file, huggingface_hub PR 4228), so a rerun fetches
    exactly the files that were not finished."""
    host = hub_node["host"]
    data, inventory = deploy(hub_node, "resumed", {"model_dir": "/var/lib/glmstack/models/resumed"})
    plan = resolve(hub_node["node"]["address"], data)
    total = sum((hub_node["root"] / REPO / name).stat().st_size for name in repository_files(hub_node))
    with serve_hub(hub_node["root"], port=HUB_PORT, token=hub_node["token"], rate=20_000_000):
        finished = kill_a_third_of_the_way(host, plan, inventory, total)
    in_cache = bytes_on_disk(host, plan) - sum(finished.values())
    assert finished and len(finished) < len(repository_files(hub_node)), finished
    assert not host.file(ready_marker(plan)).exists

    stats: dict = {}
    with serve_hub(hub_node["root"], port=HUB_PORT, token=hub_node["token"], stats=stats):
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    fetched = stats.get("bytes_sent", 0)
    print(f"hub download rerun: {len(finished)} finished files ({sum(finished.values())} bytes) kept, "
          f"{in_cache} bytes in the client's cache (cut-off files) dropped, {fetched} of {total} fetched again")
    assert fetched == total - sum(finished.values())
    for name, digest in repository_files(hub_node).items():
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest, name


def test_file_changed_on_the_node_is_found_and_fetched_again(hub_node):
    host = hub_node["host"]
    data, inventory = deploy(hub_node, "hub")
    plan = resolve(hub_node["node"]["address"], data)
    shard = f"{plan.model.directory}/{SHARDS[1]}"
    host.run_expect([0], f"printf 'bitrot' | dd of={shard} bs=1 seek=4096 conv=notrunc status=none")
    stats: dict = {}
    with serve_hub(hub_node["root"], port=HUB_PORT, token=hub_node["token"], stats=stats):
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "glmstack model | Wait for glm-5.2-gguf to be fetched and verified" in rerun.changed_operations
    assert host.file(shard).sha256sum == repository_files(hub_node)[SHARDS[1]]
    # Only the changed file travelled again.
    assert stats["bytes_sent"] == (hub_node["root"] / REPO / SHARDS[1]).stat().st_size
    assert run_deploy(inventory).results["totals"]["success"] == 0


def test_file_mangled_in_transit_is_caught_by_the_hub_sums_and_fetched_again(hub_node):
    host = hub_node["host"]
    data, inventory = deploy(hub_node, "mangled", {"model_dir": "/var/lib/glmstack/models/mangled"})
    plan = resolve(hub_node["node"]["address"], data)
    with serve_hub(hub_node["root"], port=HUB_PORT, token=hub_node["token"], corrupt_once={SHARDS[0]}):
        run = run_deploy(inventory)
    assert run.returncode == 0, run.stderr[-4000:]
    assert f"{SHARDS[0]}: checksum mismatch" in host.check_output(f"journalctl -u {weights_unit(plan)} -o cat")
    for name, digest in repository_files(hub_node).items():
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest, name


def modelscope_data(hub_node, directory: str) -> dict:
    return {"model_source": f"modelscope://{REPO}", "model_hf_endpoint": None, "model_hf_token_file": None,
            "model_modelscope_endpoint": f"http://{GATEWAY}:{MODELSCOPE_PORT}",
            "model_modelscope_token_file": str(hub_node["root"] / "hf-token"), "model_dir": directory}


def test_modelscope_download_is_verified_repaired_and_keeps_the_token_secret(hub_node):
    host = hub_node["host"]
    data, inventory = deploy(hub_node, "modelscope",
                             modelscope_data(hub_node, "/var/lib/glmstack/models/modelscope"))
    plan = resolve(hub_node["node"]["address"], data)
    requests: list = []
    with leaks.process_samples(host):
        with serve_modelscope(hub_node["root"], port=MODELSCOPE_PORT, token=hub_node["token"], requests=requests):
            first = run_deploy(inventory, options=("--diff", "-vvv"))
        second = run_deploy(inventory, options=("--diff", "-vvv"))
    assert first.returncode == 0, first.stderr[-4000:]
    assert second.results["totals"]["success"] == 0, second.changed_operations
    for name, digest in repository_files(hub_node).items():
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest, name
    assert host.file(ready_marker(plan)).content_string.strip() == plan.model.fingerprint
    journal = host.check_output(f"journalctl -u {weights_unit(plan)} --no-pager -o cat")
    assert f"verified {len(SHARDS) + 3} files against the hub's sums" in journal
    assert "modelscope download" in host.file(f"/opt/glmstack/lib/fetch-weights-{plan.config.model}.sh").content_string
    served = host.check_output(curl_as_client(plan, f"http://127.0.0.1:{plan.port}/v1/models"))
    assert plan.served_model_name in served
    assert plan.model.directory in host.check_output(f"systemctl show -p ExecStart {plan.unit_name}.service")
    # The endpoint saw the token on every repository request: the client read it from its file.
    repository_requests = [r for r in requests if r[1].startswith(f"/api/v1/models/{REPO}")]
    assert repository_requests and all(authorized for _, _, authorized in repository_requests), requests

    places = leaks.places(host, [weights_unit(plan), f"{plan.unit_name}.service"],
                          [run.stdout + run.stderr for run in (first, second)])
    assert "modelscope download" in places["process list"]
    leaks.assert_absent({"the ModelScope token": hub_node["token"]}, places)
    token_file = host.file("/etc/glmstack/modelscope-token")
    assert (token_file.user, token_file.mode) == ("root", 0o600)
    assert_sandboxed_like_the_engine(host, plan, "modelscope")

    # A file changed on the node: found, and only it fetched again.
    shard = f"{plan.model.directory}/{SHARDS[0]}"
    host.run_expect([0], f"printf 'bitrot' | dd of={shard} bs=1 seek=4096 conv=notrunc status=none")
    stats: dict = {}
    with serve_modelscope(hub_node["root"], port=MODELSCOPE_PORT, token=hub_node["token"], stats=stats):
        repaired = run_deploy(inventory)
    assert repaired.returncode == 0, repaired.stderr[-4000:]
    assert host.file(shard).sha256sum == repository_files(hub_node)[SHARDS[0]]
    assert stats["bytes_sent"] == (hub_node["root"] / REPO / SHARDS[0]).stat().st_size


def test_modelscope_download_killed_midway_resumes_where_it_stopped(hub_node):
    """The modelscope client keeps a cut-off file as NAME.incomplete and asks for the rest with a
    byte range: a rerun fetches only the bytes not on the node yet."""
    host = hub_node["host"]
    data, inventory = deploy(hub_node, "modelscope-resumed",
                             modelscope_data(hub_node, "/var/lib/glmstack/models/modelscope-resumed"))
    plan = resolve(hub_node["node"]["address"], data)
    total = sum((hub_node["root"] / REPO / name).stat().st_size for name in repository_files(hub_node))
    with serve_modelscope(hub_node["root"], port=MODELSCOPE_PORT, token=hub_node["token"], rate=20_000_000):
        on_node = kill_a_third_of_the_way(host, plan, inventory, total)
    partial = {name: size for name, size in on_node.items() if name.endswith(".incomplete")}
    assert partial and not host.file(ready_marker(plan)).exists, on_node

    stats: dict = {}
    with serve_modelscope(hub_node["root"], port=MODELSCOPE_PORT, token=hub_node["token"], stats=stats):
        rerun = run_deploy(inventory)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    fetched = stats.get("bytes_sent", 0)
    kept = sum(on_node.values())
    print(f"modelscope download rerun: {kept} bytes on the node kept ({len(partial)} cut-off files resumed), "
          f"{fetched} of {total} fetched again")
    assert fetched == total - kept
    for name, digest in repository_files(hub_node).items():
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest, name
    assert not host.check_output(f"find {plan.model.directory} -name '*.incomplete'")


# A stand-in for the delta repository's graft_glm52_awq_mtp.sh, which only the real repository
# holds: it does what seed 003 says the real one does (the base's files left as they are, the
# delta's tensors added, the index merged, mtp_quantization_config added to config.json), or,
# with BROKEN set, forgets the delta's tensors. It proves the deploy's side of the graft only.
STAND_IN_GRAFT = r"""#!/bin/bash
# STAND-IN for graft_glm52_awq_mtp.sh (glmstack lab test), not the delta author's script.
set -eu
while [ $# -gt 0 ]; do
  case $1 in --awq-dir) awq=$2;; --mtp-delta-dir) delta=$2;; --out-dir) out=$2;; esac; shift 2
done
mkdir -p "$out"
for f in "$awq"/*.safetensors; do ln -s "$f" "$out/"; done
cp "$delta"/mtp.safetensors "$out/"
id -un > "$out/grafted-by"
python3 - "$awq" "$delta" "$out" "${BROKEN:-}" <<'PY'
import json, os, sys
awq, delta, out, broken = sys.argv[1:]
index = json.load(open(os.path.join(awq, "model.safetensors.index.json")))
if not broken:
    index["weight_map"].update(json.load(open(os.path.join(delta, "mtp.index.json")))["weight_map"])
json.dump(index, open(os.path.join(out, "model.safetensors.index.json"), "w"))
config = json.load(open(os.path.join(awq, "config.json")))
config["mtp_quantization_config"] = {"quant_method": "fp8"}
json.dump(config, open(os.path.join(out, "config.json"), "w"))
PY
"""


def test_graft_runs_the_delta_script_as_the_service_user_and_marks_only_a_checked_result(hub_node):
    from glmstack.config import resolve as resolve_plan
    from roles.model.operations import graft_script, graft_script_path

    host = hub_node["host"]
    plan = resolve_plan("gh", {"accelerator": "gh200", "model": "glm-5.2-awq-int4-mtp-fp8", "engine": "vllm",
                               "model_revision": "1" * 40, "model_graft_revision": "2" * 40,
                               "engine_requirement": "vllm @ https://files.lab.example/vllm.whl#sha256=" + "a" * 64})
    graft = plan.model.graft
    base, delta, out = graft.base[1].directory, graft.delta[1].directory, plan.model.directory
    # The service user as the base role makes it (here when this test runs alone).
    host.run_expect([0], "getent group glmstack >/dev/null || groupadd --system glmstack; "
                         "id glmstack >/dev/null 2>&1 || useradd --system --gid glmstack --no-create-home glmstack")
    host.run_expect([0], f"rm -rf {base} {delta} {out} {out}.graft && mkdir -p {base} {delta} && "
                         f"head -c 4096 /dev/urandom > {base}/model-00001-of-00001.safetensors && "
                         f"head -c 1024 /dev/urandom > {delta}/mtp.safetensors")
    host.run_expect([0], f"cat > {base}/model.safetensors.index.json <<'J'\n"
                         + json.dumps({"weight_map": {"model.layers.0.w": "model-00001-of-00001.safetensors"}})
                         + f"\nJ\necho '{{\"model_type\": \"glm_moe_dsa\"}}' > {base}/config.json && "
                         f"cat > {delta}/mtp.index.json <<'J'\n"
                         + json.dumps({"weight_map": {"model.layers.78.eh_proj.weight": "mtp.safetensors"}})
                         + f"\nJ\ncat > {delta}/{graft.script} <<'STANDIN'\n{STAND_IN_GRAFT}STANDIN\n"
                         # As the weights units leave them: root's, readable by the service group.
                         f"chown -R root:glmstack {base} {delta} && chmod -R u=rwX,g=rX,o= {base} {delta}")
    host.run_expect([0], f"mkdir -p /opt/glmstack/lib && cat > {graft_script_path(plan)} <<'GRAFT'\n"
                         f"{graft_script(plan)}GRAFT\n")

    ran = host.run(f"/bin/bash {graft_script_path(plan)}")
    assert ran.rc == 0, ran.stderr
    assert "1 grafted tensors, 2 shards" in ran.stdout
    index = json.loads(host.file(f"{out}/model.safetensors.index.json").content_string)
    assert index["weight_map"]["model.layers.78.eh_proj.weight"] == "mtp.safetensors"
    assert host.file(f"{out}/grafted-by").content_string.strip() == "glmstack"  # not root
    assert host.file(ready_marker(plan)).content_string.strip() == plan.model.fingerprint
    assert (host.file(out).user, host.file(out).group, host.file(out).mode) == ("root", "glmstack", 0o750)
    assert not host.file(f"{out}.graft").exists

    # A graft that loses the MTP tensors: refused, nothing marked, the checked result left alone.
    broken = host.run(f"BROKEN=1 /bin/bash {graft_script_path(plan)}")
    assert broken.rc != 0
    assert "the graft is incomplete: its index names no model.layers.78.* tensors" in broken.stderr
    assert not host.file(ready_marker(plan)).exists
    assert "model.layers.78.eh_proj.weight" in host.file(f"{out}/model.safetensors.index.json").content_string
    host.run_expect([0], f"rm -rf {base} {delta} {out} {out}.graft {ready_marker(plan)} "
                         f"{graft_script_path(plan)}")


def test_every_kind_of_weights_unit_scores_like_the_engine_on_the_node(hub_node):
    """systemd's score on the node for each kind of weights unit (installed, not run): hub, ModelScope,
    http mirror, a path on the host, passing the weights on and receiving them, its server, and a
    graft's two parts; each within 0.5 of the engine unit's."""
    from glmstack.config import resolve_inventory
    from glmstack.render import render_unit
    from roles.model.operations import share_unit_text, weights_parts, weights_unit_text

    host, data = hub_node["host"], hub_node["data"]
    address = hub_node["node"]["address"]
    mirror = {**data, "model_source": f"http://{GATEWAY}:8099", "model_files": {TINY_MODEL: "ab" * 32},
              "model_hf_endpoint": None, "model_hf_token_file": None}
    group = resolve_inventory([(name, {**mirror, "address": name, "model_fetch_from": "10.213.0.11"})
                               for name in ("10.213.0.11", "10.213.0.12")])
    graft = resolve(address, {"accelerator": "gh200", "model": "glm-5.2-awq-int4-mtp-fp8", "engine": "vllm",
                              "model_revision": "1" * 40, "model_graft_revision": "2" * 40,
                              "engine_requirement": "vllm @ https://files.lab.example/vllm-0.23.0.post1-cp38-abi3-"
                                                    "linux_aarch64.whl#sha256=" + "a" * 64})
    plan = resolve(address, data)
    units = {
        "engine": render_unit(plan),  # as the deploy writes it (so this test needs no deploy before it)
        "hf": weights_unit_text(plan),
        "modelscope": weights_unit_text(resolve(address, {**data, **modelscope_data(hub_node, "/srv/ms")})),
        "http mirror": weights_unit_text(resolve(address, mirror)),
        "path": weights_unit_text(resolve(address, {**mirror, "model_source": "/srv/models/tiny",
                                                    "model_entry": TINY_MODEL})),
        "passing on": weights_unit_text(group[0]),
        "share": share_unit_text(group[0]),
        "from the seed": weights_unit_text(group[1]),
        "graft base": weights_unit_text(weights_parts(graft)[0]),
        "graft delta": weights_unit_text(weights_parts(graft)[1]),
    }
    scores = {}
    try:
        for i, text in enumerate(units.values()):
            host.run_expect([0], f"cat > /etc/systemd/system/glmstack-probe-{i}.service <<'UNIT'\n{text}UNIT\n")
        host.run_expect([0], "systemctl daemon-reload")
        for i, kind in enumerate(units):
            scores[kind] = exposure(host, f"glmstack-probe-{i}.service")
    finally:
        host.run("rm -f /etc/systemd/system/glmstack-probe-*.service && systemctl daemon-reload")
    print("systemd-analyze security on the node:", scores)
    assert all(score <= scores["engine"] + 0.5 for score in scores.values()), scores
