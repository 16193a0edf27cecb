"""Slow tier (`make test-slow`): the catalog's engine pins install for real on a lab node.

Downloads several GB from the package index (vLLM and SGLang with their CUDA 13 torch builds),
so it runs only when GLMSTACK_SLOW=1. The node has no GPU: this proves the pins resolve and
the environments work as far as a machine without a driver can tell (`vllm --version`, SGLang's
import); DeepGEMM's import, which needs the driver, is checked by the full deploy on GPU hosts.
"""

from __future__ import annotations

import os
import shlex

import pytest

from glmstack.catalog import load_catalog
from glmstack.config import resolve
from glmstack.lab import lab
from glmstack.lab.profile import run_deploy

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(os.environ.get("GLMSTACK_SLOW") != "1", reason="slow tier: make test-slow")]

NVIDIA_DATA = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "vllm"}


def test_pinned_engine_environments_install_and_run(tmp_path):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        node = lab.up(1, paths)[0]
        inventory = lab.write_inventory(paths, output=tmp_path / "engines.py", extra_data=NVIDIA_DATA)
        first = run_deploy(inventory, deploy="engine_envs.py")
        assert first.returncode == 0, first.stderr[-4000:]

        host = lab.node_connection(node["address"], paths)
        catalog = load_catalog()
        vllm = resolve(node["address"], NVIDIA_DATA).engine_env
        assert host.check_output(f"{shlex.quote(vllm.directory)}/bin/vllm --version").strip() == \
            catalog.engines["vllm"].version
        sglang = resolve(node["address"], {**NVIDIA_DATA, "engine": "sglang"}).engine_env
        assert host.check_output(
            f"{shlex.quote(sglang.directory)}/bin/python -c 'import sglang; print(sglang.__version__)'"
        ).strip() == catalog.engines["sglang"].version

        second = run_deploy(inventory, deploy="engine_envs.py")
        assert second.returncode == 0 and second.changed_operations == []
    finally:
        lab.down(paths)
