"""`glmstack lock` against the lab's hub endpoint on the lab network, and a lab node deployed from
the lock: the commit the branch points to, the files' sums, the entry shard chosen by the lock (host
data names neither a commit nor an entry), the deploy refusing the model before it is locked and a
tampered lock (before any host is touched, or on the node when the sums were changed consistently),
--check failing once the endpoint moves the branch and --upgrade moving the pin.
"""

from __future__ import annotations

import json
import secrets
import shutil

import pytest

from glmstack.cli import main
from glmstack.digests import sha256_of
from glmstack.lab import lab
from glmstack.lab.hub import scan_repositories, serve_hub
from glmstack.lab.network import GATEWAY
from glmstack.lab.profile import TINY_MODEL, cpu_profile_data, models_dir, run_deploy
from glmstack.lock import lock_path, read_lock
from glmstack.planning import plan_inventory
from roles.model import ready_marker, weights_unit
from roles.service import curl_as_client

pytestmark = pytest.mark.lab
HUB_PORT = 8093
REPO = "lab/glm-5.2-tiny-locked"


@pytest.fixture(scope="module")
def locked_node(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    root = tmp_path_factory.mktemp("lockhub")
    lab.down(paths)
    try:
        node = lab.up(1, paths)[0]
        base = cpu_profile_data(paths, gateway=False)
        repo = root / "hub" / REPO
        repo.mkdir(parents=True)
        shutil.copy(models_dir(paths) / TINY_MODEL, repo / TINY_MODEL)
        (repo / "config.json").write_text(json.dumps({"model_type": "glm_moe_dsa"}))
        token = root / "hf-token"
        token.write_text(f"hf_lab{secrets.token_hex(16)}\n")
        token.chmod(0o600)
        # Neither a commit nor the entry file: the lock supplies both.
        data = {**base, "model_source": f"hf://{REPO}", "model_files": {}, "model_include": [],
                "model_hf_endpoint": f"http://{GATEWAY}:{HUB_PORT}", "model_hf_token_file": str(token)}
        inventory = lab.write_inventory(paths, extra_data=data, output=root / "locked.py")
        yield {"paths": paths, "node": node, "hub": root / "hub", "inventory": inventory,
               "token": token.read_text().strip(), "host": lab.node_connection(node["address"], paths)}
    finally:
        lab.down(paths)


def test_deploy_from_the_lock_then_check_upgrade_and_tampering(locked_node, capsys):
    hub, inventory, host = locked_node["hub"], locked_node["inventory"], locked_node["host"]
    with serve_hub(hub, port=HUB_PORT, token=locked_node["token"]) as (_, repos):
        # Not locked: the deploy stops at the inventory, naming host, field and the command.
        refused = run_deploy(inventory)
        assert refused.returncode == 2
        assert f"field model_revision: hf://{REPO} (glm-5.2-gguf) is not locked: run glmstack lock" in refused.stderr
        assert "Connecting to hosts" not in refused.stderr

        assert main(["lock", str(inventory)]) == 0
        entry = read_lock(inventory).find("glm-5.2-gguf", f"hf://{REPO}", (), ())
        assert entry.commit == repos[REPO].commit and entry.ref == "main"
        assert entry.entry == TINY_MODEL
        sums = {item.path: item.sha256 or item.git_blob for item in entry.files}
        assert sums[TINY_MODEL] == sha256_of(hub / REPO / TINY_MODEL)

        first = run_deploy(inventory)
        assert first.returncode == 0, first.stderr[-4000:]
        [plan] = plan_inventory(inventory)
        assert plan.model.revision == entry.commit and plan.model.entry == TINY_MODEL
        assert host.file(ready_marker(plan)).content_string.strip() == plan.model.fingerprint
        journal = host.check_output(f"journalctl -u {weights_unit(plan)} --no-pager -o cat")
        assert "verified 2 files against the hub's sums" in journal
        assert plan.served_model_name in host.check_output(
            curl_as_client(plan, f"http://127.0.0.1:{plan.port}/v1/models"))

        # The endpoint moves the branch: --check fails (the nightly's signal), --upgrade moves the pin.
        old = entry.commit
        (hub / REPO / "config.json").write_text(json.dumps({"model_type": "glm_moe_dsa", "rev": 2}))
        repos.update(scan_repositories(hub))
        capsys.readouterr()
        assert main(["lock", str(inventory), "--check"]) == 1
        assert f"main is at {repos[REPO].commit}, the lock has {old}" in capsys.readouterr().err
        assert main(["lock", str(inventory), "--upgrade"]) == 0
        assert read_lock(inventory).find("glm-5.2-gguf", f"hf://{REPO}", (), ()).commit == repos[REPO].commit
        assert main(["lock", str(inventory), "--check"]) == 0

        path = lock_path(inventory)
        good = path.read_text()
        # Edited by hand: refused before any host is touched.
        data = json.loads(good)
        data["models"][0]["files"][1]["sha256"] = "0" * 64
        path.write_text(json.dumps(data))
        tampered = run_deploy(inventory)
        assert tampered.returncode == 2 and "does not match its digest" in tampered.stderr
        assert "Connecting to hosts" not in tampered.stderr

        # Changed with its digest made to match: the node checks the download against the lock's
        # sums and refuses the file that does not match them.
        from glmstack.lock import LockEntry, lock_text
        forged = LockEntry.from_dict(json.loads(good)["models"][0])
        files = tuple(type(item)(item.path, item.size, "0" * 64 if item.path == TINY_MODEL else item.sha256,
                                 item.git_blob) for item in forged.files)
        path.write_text(lock_text([LockEntry(**{**forged.__dict__, "files": files}).sealed()]))
        failed = run_deploy(inventory)
        assert failed.returncode != 0
        journal = host.check_output(f"journalctl -u {weights_unit(plan)} --no-pager -o cat")
        assert f"{TINY_MODEL}: checksum mismatch" in journal
        path.write_text(good)
