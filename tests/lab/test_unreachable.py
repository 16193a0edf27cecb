"""One of three nodes unreachable: the other two are deployed, and the summary and exit status say
which one was not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from glmstack.config import resolve
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir
from glmstack.lab.serve import serve_directory
from glmstack.paths import REPO_ROOT
from roles.service.operations import curl_as_client

pytestmark = pytest.mark.lab
SILENT = "10.213.0.99"  # inside the lab's own subnet, where no node answers


def test_unreachable_node_is_named_and_the_others_complete(tmp_path):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        nodes = lab.up(2, paths)
        hosts = lab.inventory_hosts(paths, cpu_profile_data(paths, gateway=False))
        inventory = tmp_path / "three.py"
        inventory.write_text("from glmstack.inventory import group\n"
                             f"nodes = group({hosts + [(SILENT, hosts[0][1])]!r})\n")
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            run = subprocess.run([str(Path(sys.executable).parent / "glmstack"), "deploy", str(inventory), "--json"],
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)

        assert run.returncode == 1
        summary = {row["host"]: row for row in json.loads(run.stdout)["hosts"]}
        assert summary[SILENT]["status"] == "unreachable"
        for node in nodes:
            assert summary[node["address"]]["status"] == "ok" and summary[node["address"]]["changed"] > 0
            host = lab.node_connection(node["address"], paths)
            plan = resolve(node["address"], cpu_profile_data(paths, gateway=False))
            assert "glm-5.2-tiny-test" in host.check_output(curl_as_client(plan, "http://127.0.0.1:8080/v1/models"))
    finally:
        lab.down(paths)
