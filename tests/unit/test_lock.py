"""`glmstack lock` against the lab's Hugging Face and ModelScope endpoints served on loopback in this
process (no root, no lab nodes): the commit a branch points to, every selected file with its size and
sum, the GGUF entry shard, --check after the branch moves, --upgrade, and what the planner and the
deploy's reading of the inventory do with the lock (unlocked, locked, tampered, disagreeing)."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from glmstack.cli import main
from glmstack.hostdata import InventoryError
from glmstack.lab.hub import scan_repositories, serve_hub
from glmstack.lab.modelscope import serve_modelscope
from glmstack.lock import lock_path, read_lock
from glmstack.planning import host_document, plan_inventory
from glmstack.resolve import resolve_inventory
from roles.model import VERIFY_HUB, fetch_script

REPO = "lab-org/tiny-gguf"
SHARDS = ["Q2/tiny-Q2-00001-of-00002.gguf", "Q2/tiny-Q2-00002-of-00002.gguf"]
OTHER_QUANT = "Q4/tiny-Q4.gguf"


def make_repo(root: Path) -> Path:
    repo = root / REPO
    (repo / "Q2").mkdir(parents=True)
    (repo / "Q4").mkdir()
    for index, name in enumerate(SHARDS):
        (repo / name).write_bytes(bytes([index]) * 4096)
    (repo / OTHER_QUANT).write_bytes(b"q4" * 100)
    (repo / "Q2" / "notes.txt").write_text("small file outside LFS\n")
    (repo / "README.md").write_text("# tiny\n")
    return repo


def write_inventory(path: Path, endpoint: str, **extra) -> Path:
    data = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp",
            "model_source": f"hf://{REPO}", "model_hf_endpoint": endpoint, "model_include": ["Q2/*"],
            "max_model_len": 4096, **extra}
    args = ", ".join(f"{key}={value!r}" for key, value in data.items())
    path.write_text(f"from glmstack.inventory import group\n\nlab = group([('node-1', {{}})], {args})\n")
    return path


@pytest.fixture
def hub(tmp_path):
    root = tmp_path / "hub"
    make_repo(root)
    with serve_hub(root, address="127.0.0.1") as (url, repos):
        yield root, url, repos


def move_branch(root: Path, repos: dict) -> str:
    """A new commit on main: one shard changes."""
    (root / REPO / SHARDS[1]).write_bytes(b"\x07" * 5000)
    repos.update(scan_repositories(root))
    return repos[REPO].commit


def test_lock_pins_the_branch_commit_every_selected_file_and_the_entry_shard(hub, tmp_path, capsys):
    root, url, repos = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    assert main(["lock", str(inventory)]) == 0
    assert "+ glm-5.2-gguf (hf://lab-org/tiny-gguf): main at " in capsys.readouterr().err
    path = lock_path(inventory)
    assert path == tmp_path / "lab.lock.json"
    data = json.loads(path.read_text())
    [entry] = data["models"]
    assert entry["commit"] == repos[REPO].commit and entry["ref"] == "main"
    # The include pattern applied as the deploy applies it: Q4 and README are not fetched.
    files = {item["path"]: item for item in entry["files"]}
    assert sorted(files) == sorted([*SHARDS, "Q2/notes.txt"])
    for name in SHARDS:
        blob = (root / REPO / name).read_bytes()
        assert files[name] == {"path": name, "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    small = (root / REPO / "Q2/notes.txt").read_bytes()
    assert files["Q2/notes.txt"]["git_blob"] == hashlib.sha1(b"blob %d\0" % len(small) + small).hexdigest()
    assert "sha256" not in files["Q2/notes.txt"]
    assert entry["entry"] == SHARDS[0]
    assert entry["total_bytes"] == sum(item["size"] for item in entry["files"])
    # Stable: locking again changes nothing, byte for byte.
    before = path.read_text()
    assert main(["lock", str(inventory)]) == 0
    assert path.read_text() == before


def test_plan_shows_not_locked_and_the_deploy_reading_refuses_until_locked(hub, tmp_path, capsys):
    _, url, repos = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    [plan] = plan_inventory(inventory)
    assert host_document(plan)["model_source"]["lock"] == "hf://lab-org/tiny-gguf: not locked: run glmstack lock"
    with pytest.raises(SystemExit) as exit_info:  # as pyinfra loads it
        runpy.run_path(str(inventory))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (f"host node-1: field model_revision: hf://{REPO} (glm-5.2-gguf) is not locked: run glmstack lock "
            f"{inventory}") in err
    assert main(["lock", str(inventory)]) == 0
    hosts = runpy.run_path(str(inventory))["lab"]
    [plan] = resolve_inventory(hosts, lock=read_lock(inventory, required=True))
    assert plan.model.revision == repos[REPO].commit and plan.model.entry == SHARDS[0]
    assert plan.serve_argv[plan.serve_argv.index("--model") + 1].endswith(SHARDS[0])
    # The weights check reads the lock's sums: no listing of the hub at deploy time.
    script = fetch_script(plan)
    assert "--locked /opt/glmstack/lib/weights-glm-5.2-gguf.locked.json" in script
    assert json.loads(plan.model.locked.files_json())[0]["path"] == "Q2/notes.txt"


def test_check_fails_after_the_branch_moves_and_upgrade_moves_the_pin(hub, tmp_path, capsys):
    root, url, repos = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    assert main(["lock", str(inventory), "--check"]) == 1  # no lock yet
    assert "does not exist: run glmstack lock" in capsys.readouterr().err
    assert main(["lock", str(inventory)]) == 0
    old = repos[REPO].commit
    assert main(["lock", str(inventory), "--check"]) == 0
    new = move_branch(root, repos)
    assert new != old
    capsys.readouterr()
    assert main(["lock", str(inventory), "--check"]) == 1
    assert f"main is at {new}, the lock has {old}" in capsys.readouterr().err
    assert main(["lock", str(inventory)]) == 0  # without --upgrade the pin stays
    assert read_lock(inventory).find("glm-5.2-gguf", f"hf://{REPO}", ("Q2/*",), ()).commit == old
    assert main(["lock", str(inventory), "--upgrade", "glm-5.2-gguf"]) == 0
    assert f"~ glm-5.2-gguf (hf://{REPO}): {old[:12]} -> {new[:12]}" in capsys.readouterr().err
    entry = read_lock(inventory).find("glm-5.2-gguf", f"hf://{REPO}", ("Q2/*",), ())
    assert entry.commit == new and {f.path: f.size for f in entry.files}[SHARDS[1]] == 5000
    assert main(["lock", str(inventory), "--check"]) == 0
    # The inventory's models changing makes the lock stale too.
    write_inventory(inventory, url, model_include=["Q4/*"])
    assert main(["lock", str(inventory), "--check"]) == 1
    assert "is locked but no host fetches it" in capsys.readouterr().err


def lock_and_load(inventory: Path) -> list:
    assert main(["lock", str(inventory)]) == 0
    return runpy.run_path(str(inventory))["lab"]


def test_a_tampered_lock_is_refused_before_any_host(hub, tmp_path):
    _, url, _ = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    hosts = lock_and_load(inventory)
    path = lock_path(inventory)
    data = json.loads(path.read_text())
    data["models"][0]["files"][1]["sha256"] = "0" * 64  # a sum changed by hand
    path.write_text(json.dumps(data))
    with pytest.raises(InventoryError, match=r"^host node-1: field model_revision: the lock .*lab.lock.json entry "
                                             r"for glm-5.2-gguf \(hf://lab-org/tiny-gguf\) does not match its digest"):
        resolve_inventory(hosts, lock=read_lock(inventory, required=True))


def test_an_explicit_revision_wins_and_is_checked_against_the_lock(hub, tmp_path):
    _, url, repos = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    hosts = lock_and_load(inventory)
    lock = read_lock(inventory, required=True)
    commit = repos[REPO].commit
    [plan] = resolve_inventory([(name, {**data, "model_revision": commit}) for name, data in hosts], lock=lock)
    assert plan.model.revision == commit and plan.model.locked is not None
    with pytest.raises(InventoryError) as error:
        resolve_inventory([(name, {**data, "model_revision": "a" * 40}) for name, data in hosts], lock=lock)
    assert str(error.value) == (f"host node-1: field model_revision: {'a' * 40} in host data, the lock "
                                f"{lock.path} has {commit} for glm-5.2-gguf (hf://{REPO}); run glmstack lock "
                                f"{inventory} --upgrade glm-5.2-gguf, or drop one of the two")


def test_a_lock_of_another_repository_is_refused_naming_both(hub, tmp_path):
    _, url, _ = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    hosts = lock_and_load(inventory)
    moved = [(name, {**data, "model_source": "hf://lab-org/another"}) for name, data in hosts]
    with pytest.raises(InventoryError) as error:
        resolve_inventory(moved, lock=read_lock(inventory, required=True))
    text = str(error.value)
    assert text.startswith("host node-1: field model_source: glm-5.2-gguf from hf://lab-org/another")
    assert f"has glm-5.2-gguf from hf://{REPO}" in text and "--upgrade glm-5.2-gguf" in text


def test_two_quants_selected_is_one_line_asking_for_narrower_patterns(hub, tmp_path, capsys):
    _, url, _ = hub
    inventory = write_inventory(tmp_path / "lab.py", url, model_include=["Q2/*", "Q4/*"])
    assert main(["lock", str(inventory)]) == 2
    err = capsys.readouterr().err
    assert f"{SHARDS[0]}, {OTHER_QUANT}; narrow model_include to one quant, or name the file in model_entry" in err
    assert not lock_path(inventory).exists()


def test_a_token_reaches_the_hub_and_never_the_lock(tmp_path, capsys):
    root = tmp_path / "hub"
    make_repo(root)
    token = tmp_path / "hf-token"
    token.write_text("hf_secret_lock_token\n")
    token.chmod(0o600)
    requests: list = []
    with serve_hub(root, address="127.0.0.1", token="hf_secret_lock_token", requests=requests) as (url, _):
        inventory = write_inventory(tmp_path / "lab.py", url, model_hf_token_file=str(token))
        assert main(["lock", str(inventory)]) == 0
    assert requests and all(authorized for _, _, authorized in requests)
    assert "hf_secret_lock_token" not in lock_path(inventory).read_text() + capsys.readouterr().err


def test_modelscope_lock_takes_the_commit_and_every_sha256(tmp_path):
    root = tmp_path / "hub"
    make_repo(root)
    with serve_modelscope(root, address="127.0.0.1") as (url, repos):
        inventory = write_inventory(tmp_path / "lab.py", url, model_source=f"modelscope://{REPO}",
                                    model_hf_endpoint=None, model_modelscope_endpoint=url)
        assert main(["lock", str(inventory)]) == 0
    [entry] = json.loads(lock_path(inventory).read_text())["models"]
    assert entry["ref"] == "master" and entry["commit"] == repos[REPO].commit
    files = {item["path"]: item for item in entry["files"]}
    assert sorted(files) == sorted([*SHARDS, "Q2/notes.txt"]) and entry["entry"] == SHARDS[0]
    notes = (root / REPO / "Q2/notes.txt").read_bytes()
    assert files["Q2/notes.txt"]["sha256"] == hashlib.sha256(notes).hexdigest()


def test_the_checker_verifies_against_the_locked_sums_without_a_hub(hub, tmp_path):
    root, url, _ = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    lock_and_load(inventory)
    [plan] = plan_inventory(inventory)
    locked = tmp_path / "locked.json"
    locked.write_text(plan.model.locked.files_json())
    download = tmp_path / "download"
    for name in [*SHARDS, "Q2/notes.txt"]:
        (download / name).parent.mkdir(parents=True, exist_ok=True)
        (download / name).write_bytes((root / REPO / name).read_bytes())
    command = [sys.executable, str(VERIFY_HUB), "verify", REPO, plan.model.revision, str(download),
               "--locked", str(locked)]
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing answers there
    ok = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    (download / SHARDS[1]).write_bytes(b"\x00" * 4096)  # same size, other bytes
    bad = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1 and f"{SHARDS[1]}: checksum mismatch" in bad.stderr


def pyinfra_deploy(inventory: Path) -> subprocess.CompletedProcess:
    from glmstack.planning import pyinfra_command

    return subprocess.run(pyinfra_command(inventory, json_output=False), capture_output=True, text=True, timeout=120)


def test_pyinfra_deploy_refuses_unlocked_and_tampered_before_connecting(hub, tmp_path):
    _, url, _ = hub
    inventory = write_inventory(tmp_path / "lab.py", url)
    result = pyinfra_deploy(inventory)
    assert result.returncode == 2
    assert f"host node-1: field model_revision: hf://{REPO} (glm-5.2-gguf) is not locked" in result.stderr
    assert "Connecting to hosts" not in result.stderr + result.stdout
    lock_and_load(inventory)
    path = lock_path(inventory)
    data = json.loads(path.read_text())
    data["models"][0]["commit"] = "b" * 40  # pointed elsewhere by hand
    path.write_text(json.dumps(data))
    result = pyinfra_deploy(inventory)
    assert result.returncode == 2 and "does not match its digest" in result.stderr
    assert "Connecting to hosts" not in result.stderr + result.stdout


def test_a_branch_named_in_the_source_is_what_the_lock_follows(hub, tmp_path):
    _, url, repos = hub
    inventory = write_inventory(tmp_path / "lab.py", url, model_source=f"hf://{REPO}@main")
    assert main(["lock", str(inventory)]) == 0
    [entry] = json.loads(lock_path(inventory).read_text())["models"]
    assert (entry["source"], entry["ref"], entry["commit"]) == (f"hf://{REPO}", "main", repos[REPO].commit)
    [plan] = plan_inventory(inventory)
    assert plan.model.revision == repos[REPO].commit and plan.model.ref == "main"


def test_a_grafted_model_locks_its_base_and_its_delta(tmp_path):
    root = tmp_path / "hub"
    for repo in ("lab-org/awq-base", "dnhkng/GLM-5.2-AWQ-INT4-FP8-MTP-delta"):
        (root / repo).mkdir(parents=True)
        (root / repo / "model.safetensors").write_bytes(repo.encode() * 50)
        (root / repo / "config.json").write_text("{}\n")
    with serve_hub(root, address="127.0.0.1") as (url, repos):
        inventory = tmp_path / "graft.py"
        inventory.write_text(
            "from glmstack.inventory import group\n\n"
            f"lab = group([('g-1', {{}})], accelerator='gh200', model='glm-5.2-awq-int4-mtp-fp8', engine='vllm', "
            f"model_source='hf://lab-org/awq-base', model_hf_endpoint={url!r}, engine_requirement="
            "'vllm @ git+https://git.lab.example/vllm.git@3333333333333333333333333333333333333333')\n")
        [unlocked] = plan_inventory(inventory)
        assert unlocked.model.graft.base[1].unlocked and unlocked.model.graft.delta[1].unlocked
        assert main(["lock", str(inventory)]) == 0
    models = {entry["model"]: entry for entry in json.loads(lock_path(inventory).read_text())["models"]}
    assert models["glm-5.2-awq-int4"]["commit"] == repos["lab-org/awq-base"].commit
    assert (models["glm-5.2-mtp-fp8-delta"]["commit"]
            == repos["dnhkng/GLM-5.2-AWQ-INT4-FP8-MTP-delta"].commit)
    hosts = runpy.run_path(str(inventory))["lab"]  # as the deploy loads it: both locked
    [plan] = resolve_inventory(hosts, lock=read_lock(inventory, required=True))
    assert plan.model.graft.delta[1].revision == repos["dnhkng/GLM-5.2-AWQ-INT4-FP8-MTP-delta"].commit
