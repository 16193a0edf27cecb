"""Slow tier (`make test-slow`): the catalog's engine pins install for real on a lab node.

Downloads several GB from the package index (vLLM and SGLang with their CUDA 13 torch builds),
so it runs only when GLMSTACK_SLOW=1. The node has no GPU: this proves the pins resolve and
the environments work as far as a machine without a driver can tell (imports and versions).
`vllm --version` and DeepGEMM's import need the driver on vLLM 0.23.0 (its CLI infers the
device while building its parser): the full deploy runs them on GPU hosts, and this test pins
down that they cannot run here.
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
# SGLang 0.5.21 pins cuda-tile==1.6.0rc5, a PyPI stub that fetches its wheel from here.
NVIDIA_INDEX = "https://pypi.nvidia.com/"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    try:
        yield lab.up(1, paths)[0], paths, tmp_path_factory.mktemp("engines")
    finally:
        lab.down(paths)


def deploy_engine(node, engine: str):
    """deploys/engine_envs.py installs the host's own engine's environment."""
    address, paths, scratch = node[0]["address"], node[1], node[2]
    inventory = lab.write_inventory(paths, output=scratch / f"{engine}.py",
                                    extra_data={**NVIDIA_DATA, "engine": engine})
    return run_deploy(inventory, deploy="engine_envs.py"), lab.node_connection(address, paths)


def test_vllm_pin_installs_and_imports(node):
    first, host = deploy_engine(node, "vllm")
    assert first.returncode == 0, first.stderr[-4000:]
    vllm = resolve(node[0]["address"], NVIDIA_DATA).engine_env
    python = f"{shlex.quote(vllm.directory)}/bin/python"
    assert host.check_output(f"{python} -c 'import vllm; print(vllm.__version__)'").strip() == \
        load_catalog().engines["vllm"].version
    without_gpu = host.run(f"{shlex.quote(vllm.directory)}/bin/vllm --version")
    assert without_gpu.rc != 0 and "Failed to infer device type" in without_gpu.stderr
    second, _ = deploy_engine(node, "vllm")
    assert second.returncode == 0 and second.changed_operations == []


def test_sglang_pin_installs_and_imports(node):
    host = lab.node_connection(node[0]["address"], node[1])
    if host.run(f"curl -sS -o /dev/null --max-time 15 {NVIDIA_INDEX}").rc != 0:
        pytest.skip(f"SGLang 0.5.21 needs {NVIDIA_INDEX} (cuda-tile), which this machine cannot reach")
    first, host = deploy_engine(node, "sglang")
    assert first.returncode == 0, first.stderr[-4000:]
    sglang = resolve(node[0]["address"], {**NVIDIA_DATA, "engine": "sglang"}).engine_env
    assert host.check_output(
        f"{shlex.quote(sglang.directory)}/bin/python -c 'import sglang; print(sglang.__version__)'"
    ).strip() == load_catalog().engines["sglang"].version
