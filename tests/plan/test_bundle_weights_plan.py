"""Plan test: a fresh CPU host deployed from a bundle made with --weights takes its model file from the
bundle: the base role places it in the host's bundle directory, checked against the manifest, and the
weights unit's script links it from there (checked against model_files); nothing reads the mirror."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fakehost import record_uploads, run_deploy  # first: pyinfra's CLI patches threads and sockets (gevent)
from plan_data import PLAN_DATA

import roles.model.operations
from glmstack.bundle import HostNeeds, write_manifest
from glmstack.bundle_weights import pinned_files, weights_part
from glmstack.config import resolve

FACTS = Path(__file__).resolve().parent / "facts"
MODEL = "glm-5.2-tiny-test.gguf"
BLOB = b"tiny weights " * 100
DATA = {**PLAN_DATA, "model_files": {MODEL: hashlib.sha256(BLOB).hexdigest()}}


@pytest.fixture
def scripts(monkeypatch):
    """The weights fetch scripts the deploy renders, with what it took from the bundle."""
    rendered: list[tuple[dict | None, str]] = []
    original = roles.model.operations.fetch_script

    def recording(plan, bundled=None):
        rendered.append((bundled, original(plan, bundled)))
        return rendered[-1][1]

    monkeypatch.setattr(roles.model.operations, "fetch_script", recording)
    return rendered


@pytest.fixture
def uploads(monkeypatch):
    return record_uploads(monkeypatch)


def bundle(root: Path, host: str, weights: bool) -> str:
    part = weights_part("glm-5.2-gguf", pinned_files(resolve(host, DATA).model))
    if weights:
        (root / part).mkdir(parents=True)
        (root / part / MODEL).write_bytes(BLOB)
    write_manifest(root, "inv.py", {host: HostNeeds(weights=part if weights else None)})
    return part


@pytest.mark.parametrize("weights", [True, False])
def test_a_host_takes_its_weights_from_a_bundle_that_carries_them(tmp_path, scripts, uploads, weights):
    from fakehost import HOST

    part = bundle(tmp_path, HOST, weights)
    responses = json.loads((FACTS / "debian12-fresh.json").read_text())["responses"]
    run = run_deploy({**DATA, "bundle": str(tmp_path)}, responses)
    [(bundled, script)] = scripts
    if not weights:  # a bundle made without --weights: from the source, as before
        assert bundled is None and f"base={PLAN_DATA['model_source']}" in script
        return
    assert bundled == {"directory": f"/opt/glmstack/bundle/{part}",
                       "files": [{"name": MODEL, "sha256": DATA["model_files"][MODEL], "git_blob": None}]}
    assert f"place {MODEL}" in script and "base=" not in script
    # The file reaches the host's bundle directory, checked against the manifest's sum, before the unit runs.
    fetch = "/opt/glmstack/bundle/.fetch.sh"
    assert "sha256sum -c" in uploads[fetch] and f"{part}/{MODEL}" in uploads[fetch]
    run.assert_in_order([f"bash {fetch}", "systemctl start --no-block glmstack-weights-glm-5.2-gguf.service"])
