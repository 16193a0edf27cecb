"""What a host keeps of its weights before a change of them is fetched, and what the rollback puts
back: the very scripts the deploy renders (roles/model keep_weights_script and the wait's
restore_weights / drop_kept_weights functions), run with bash on a model directory under a
temporary directory (the state directory moved there)."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve
from glmstack.facts import WeightsState, files_signature_command
from roles.model.operations import keep_weights_script, restore_weights_functions, weights_signature_file

STATE = "/var/lib/glmstack"
OLD = "1" * 64  # the fingerprint of the weights the host has verified before the change


@pytest.fixture
def host(tmp_path):
    """A host with verified weights of an older change: files, glmstack's .cache, ready marker and signature."""
    plan = resolve("node1", CPU_MIRROR)
    state = tmp_path / "state"
    model = Path(plan.model.directory.replace(STATE, str(state)))
    (model / "sub").mkdir(parents=True)
    (model / ".cache" / "glmstack").mkdir(parents=True)
    (model / "tiny.gguf").write_bytes(b"old weights\x00\x01" * 1000)
    (model / "sub" / "b.bin").write_bytes(b"old b")
    (model / ".cache" / "glmstack" / "manifest").write_text("old manifest\n")
    marker = Path(weights_signature_file(plan).removesuffix(".files").replace(STATE, str(state)))
    marker.write_text(OLD + "\n")
    signature = Path(str(marker) + ".files")
    signature.write_text(sh(files_signature_command(str(model))))
    return {"plan": plan, "state": state, "model": model, "marker": marker, "signature": signature}


def sh(script: str) -> str:
    return subprocess.run(["/bin/bash", "-c", script], check=True, timeout=30, capture_output=True,
                          text=True).stdout


def run(host, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", "-c", script.replace(STATE, str(host["state"]))], timeout=30,
                          capture_output=True, text=True)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*"))
            if path.is_file()}


def fetch_new_weights(host, plan) -> None:
    """What the fetch does (fetch-helpers.sh.j2, the hub client): each new file written beside the
    old one and renamed over it, a new file added, glmstack's manifest rewritten in place; then the
    finish step's marker and signature."""
    model = host["model"]
    (model / "tiny.gguf.partial").write_bytes(b"new weights" * 500)
    (model / "tiny.gguf.partial").rename(model / "tiny.gguf")
    (model / "new.bin").write_bytes(b"added")
    with open(model / ".cache" / "glmstack" / "manifest", "w") as handle:  # same inode
        handle.write("new manifest\n")
    host["marker"].write_text(plan.model.fingerprint + "\n")
    host["signature"].write_text(sh(files_signature_command(str(model))))


def intact(host) -> dict:
    """The model role's own fact (WeightsState) on the directory, as a rerun reads it."""
    fact = WeightsState()
    output = sh(fact.command(str(host["marker"]), str(host["signature"]), str(host["model"])))
    return fact.process(output.splitlines())


def other_weights(plan, digest: str = "cd" * 32):
    """The plan of a change to other weights (other bytes pinned for the model file)."""
    return dataclasses.replace(plan, model=dataclasses.replace(plan.model, files=(("tiny.gguf", digest),)))


def test_a_rollback_puts_back_the_kept_weights_byte_for_byte_with_their_marker(host):
    plan = other_weights(host["plan"])
    before = snapshot(host["model"])
    kept = run(host, keep_weights_script(plan))
    assert kept.returncode == 0, kept.stderr
    copy = Path(str(host["model"]) + ".previous")
    # Hard links (no extra space), glmstack's records copied.
    assert (copy / "tiny.gguf").stat().st_ino == (host["model"] / "tiny.gguf").stat().st_ino
    manifest = ".cache/glmstack/manifest"
    assert (copy / manifest).stat().st_ino != (host["model"] / manifest).stat().st_ino
    fetch_new_weights(host, plan)
    assert snapshot(copy) == before  # the fetch left the kept copy alone
    assert intact(host) == {"fingerprint": plan.model.fingerprint, "intact": True}
    restored = run(host, restore_weights_functions(plan) + "restore_weights")
    assert restored.returncode == 0, restored.stderr
    assert snapshot(host["model"]) == before
    # A rerun finds the previous weights in place and verified: the old deploy converges.
    assert intact(host) == {"fingerprint": OLD, "intact": True}
    assert not copy.exists() and not Path(str(host["model"]) + ".replaced").exists()
    assert not (host["state"] / "models" / "previous").joinpath(plan.config.model).exists()


def test_weights_kept_for_another_change_are_not_put_back(host):
    plan = other_weights(host["plan"])
    run(host, keep_weights_script(plan))
    fetch_new_weights(host, plan)
    after = snapshot(host["model"])
    restored = run(host, restore_weights_functions(other_weights(host["plan"], "ef" * 32)) + "restore_weights")
    assert restored.returncode == 1
    assert snapshot(host["model"]) == after and intact(host) == {"fingerprint": plan.model.fingerprint, "intact": True}


def test_a_ready_engine_drops_the_kept_weights(host):
    plan = other_weights(host["plan"])
    run(host, keep_weights_script(plan))
    fetch_new_weights(host, plan)
    after = snapshot(host["model"])
    dropped = run(host, restore_weights_functions(plan) + "drop_kept_weights")
    assert dropped.returncode == 0, dropped.stderr
    assert not Path(str(host["model"]) + ".previous").exists()
    assert snapshot(host["model"]) == after and intact(host) == {"fingerprint": plan.model.fingerprint, "intact": True}


def test_weights_changed_since_they_were_verified_are_not_kept(host):
    (host["model"] / "sub" / "b.bin").write_bytes(b"damaged")
    kept = run(host, keep_weights_script(other_weights(host["plan"])))
    assert kept.returncode == 0, kept.stderr
    assert not Path(str(host["model"]) + ".previous").exists()


def test_weights_that_cannot_be_linked_beside_are_not_kept_and_the_deploy_goes_on(host, tmp_path):
    """A model directory that is a filesystem of its own (cp -al fails across devices)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cp").write_text('#!/bin/sh\n[ "$1" != -al ] || { mkdir -p "$3/half"; exit 1; }\nexec /bin/cp "$@"\n')
    (bin_dir / "cp").chmod(0o755)
    script = keep_weights_script(other_weights(host["plan"])).replace(STATE, str(host["state"]))
    kept = subprocess.run(["/bin/bash", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=30,
                          capture_output=True, text=True)
    assert kept.returncode == 0, kept.stderr
    assert "weights glm-5.2-gguf: not kept for a rollback" in kept.stderr
    assert not Path(str(host["model"]) + ".previous").exists()
    assert not (host["state"] / "models" / "previous").exists()
