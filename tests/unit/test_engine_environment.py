"""The engine environment a host builds: what the plan shows, what the model adds, how Ascend's is made.

The resolve tier (tests/resolve) proves these sets resolve against the package index; here, without
network, that the plan and the node's install script carry them exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from glmstack.catalog import load_catalog
from glmstack.config import engine_environment, environment_targets, resolve, resolve_inventory
from glmstack.planning import host_document
from roles.engine.operations import install_script

A3 = {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40}
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


def test_glm52_vllm_environments_take_the_transformers_seed_000_installs():
    # vllm==0.23.0 alone resolves transformers 4.57.6, which has no glm_moe_dsa (finding 2).
    for data in (H200, {**H200, "nvidia_cuda": "12.9"}, {**H200, "accelerator": "mi300x"},
                 {**H200, "accelerator": "gh200", "model": "glm-5.2-awq-int4", "model_revision": "0" * 40}):
        assert "transformers>=5.9.0" in resolve("h", data).engine_env.requirements, data


def test_engines_whose_own_pins_know_glm52_get_no_second_transformers():
    # SGLang 0.5.21 pins transformers==5.12.1 and vllm-ascend 0.23.0 ==5.5.4 (both know glm_moe_dsa):
    # another transformers requirement would only conflict.
    sglang = resolve("h", {**H200, "accelerator": "b200", "engine": "sglang", "service_bind_host": "127.0.0.1"})
    assert not any(r.startswith("transformers") for r in sglang.engine_env.requirements)
    assert not any(r.startswith("transformers") for r in resolve("a3", A3).engine_env.requirements)
    glm45 = resolve("h", {**H200, "model": "glm-4.5-fp8", "model_revision": "0" * 40})
    assert glm45.engine_env.requirements == ("vllm==0.23.0",)


def test_every_glm52_model_names_its_model_type():
    models = load_catalog().models
    assert {m.model_type for m in models.values() if m.family == "glm-5.2"} == {"glm_moe_dsa"}
    assert {m.model_type for m in models.values() if m.family == "glm-4.5"} == {"glm4_moe"}


def test_ascend_installs_vllm_from_its_source_without_a_device_as_vllm_ascend_does():
    env = resolve("a3", A3).engine_env
    assert env.source_packages == ("vllm",) and dict(env.build_env) == {"VLLM_TARGET_DEVICE": "empty"}
    script = install_script(env).splitlines()
    installs = [line for line in script if " pip install " in line]
    assert len(installs) == 2
    # First the set without vLLM (its torch, torch-npu) and vLLM's build requirements, then vLLM
    # built from PyPI's sdist against that torch: never the CUDA wheel and its torch==2.11.0.
    assert " vllm==" not in installs[0] and "torch==2.10.0" in installs[0] and "setuptools-rust" in installs[0]
    assert "--no-binary vllm --no-build-isolation-package vllm" in installs[1] and "vllm==0.23.0" in installs[1]
    assert script.index("export VLLM_TARGET_DEVICE=empty") < script.index(installs[1])


def test_ascend_on_x86_64_takes_torch_from_pytorchs_cpu_build():
    # torch-npu's x86_64 wheels require torch==2.10.0+cpu, which only PyTorch's CPU index has.
    a2 = {**A3, "accelerator": "ascend-a2", "deployment": "a2", "network_interface": "eth0",
          "ascend_roce_netmask": "255.255.255.0"}
    plan = resolve_inventory([(f"10.0.0.{node}", {**a2, "ascend_roce_addresses": [
        f"198.51.100.{8 * node + npu}" for npu in range(8)]}) for node in (1, 2)])[0]
    assert engine_environment(plan, "x86_64").torch_backend == "cpu"
    assert engine_environment(plan, "aarch64").torch_backend is None
    assert "--torch-backend cpu" in install_script(engine_environment(plan, "x86_64"))


def test_plan_json_shows_each_hosts_engine_environment(tmp_path):
    inventory = tmp_path / "inventory.py"
    inventory.write_text("hosts = [('gpu-1', " + repr({**H200, "nvidia_cuda": "12.9"}) + "), ('npu-1', "
                         + repr({**A3, "ascend_pip_extra_index_urls": ["https://pypi.lab.example/ascend/"]}) + ")]\n")
    run = subprocess.run([str(Path(sys.executable).parent / "glmstack"), "plan", "--json", str(inventory)],
                         capture_output=True, text=True, check=True)
    hosts = {doc["host"]: doc["engine_environment"] for doc in json.loads(run.stdout)["hosts"]}
    gpu, npu = hosts["gpu-1"], hosts["npu-1"]
    assert gpu["requirements"] == [
        "vllm @ https://github.com/vllm-project/vllm/releases/download/v0.23.0/"
        "vllm-0.23.0+cu129-cp38-abi3-manylinux_2_28_x86_64.whl", "transformers>=5.9.0"]
    assert gpu["torch_backend"] == "cu129" and gpu["arch"] == "x86_64"
    assert [i["url"] for i in gpu["index_urls"]] == ["https://pypi.org/simple", "https://download.pytorch.org/whl/cu129"]
    assert gpu["direct_urls"] == [gpu["requirements"][0].split(" @ ")[1]]
    # Every Python the supported distributions give it, each on the oldest glibc that has it.
    assert {(t["python"], t["platform"], t["manylinux"]) for t in gpu["targets"]} == {
        ("3.10", "x86_64-manylinux_2_35", "manylinux_2_35_x86_64"),
        ("3.11", "x86_64-manylinux_2_36", "manylinux_2_36_x86_64"),
        ("3.12", "x86_64-manylinux_2_34", "manylinux_2_34_x86_64")}
    assert gpu["python"]["by_distribution"]["ubuntu-22.04"] == "3.10"
    assert npu["arch"] == "aarch64" and npu["source_builds"] == ["vllm"]
    assert npu["build_env"] == {"VLLM_TARGET_DEVICE": "empty"}
    assert npu["requirements"] == ["vllm==0.23.0", "vllm-ascend==0.23.0", "torch==2.10.0", "torch-npu==2.10.0.post4",
                                   "triton-ascend==3.2.2"]
    urls = [i["url"] for i in npu["index_urls"]]
    assert urls[:2] == ["https://pypi.org/simple", "https://pypi.lab.example/ascend/"]
    assert "https://mirrors.huaweicloud.com/ascend/repos/pypi" in urls  # triton-ascend is not on PyPI
    for doc in hosts.values():  # no URL the plan shows carries credentials
        for url in [i["url"] for i in doc["index_urls"]] + doc["direct_urls"]:
            assert not urlparse(url.removeprefix("git+")).username


def test_an_environment_that_names_its_python_is_made_for_that_python_only():
    env = resolve("amd", {**H200, "accelerator": "mi300x"}).engine_env
    assert env.python == "3.12"
    assert [(t.python, t.platform) for t in environment_targets(env)] == [("3.12", "x86_64-manylinux_2_34")]
    assert host_document(resolve("amd", {**H200, "accelerator": "mi300x"}))["engine_environment"]["python"][
        "version"] == "3.12"


def test_another_engine_build_installs_beside_the_running_one_which_stays_for_a_rollback():
    """The engine's unit points at its environment's directory, named by what it holds: another
    build is another directory, and installing it removes nothing else (the previous unit, put
    back by a rollback, finds its environment where it was)."""
    data = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
    old = resolve("n", data).engine_env
    build = "vllm @ https://wheels.example.org/vllm-0.23.0-cp38-abi3-manylinux1_x86_64.whl#sha256=" + "a" * 64
    new = resolve("n", {**data, "engine_requirement": build}).engine_env
    assert new.directory != old.directory
    removed = [line.split()[2:] for line in install_script(new).splitlines() if line.startswith("rm ")]
    assert removed == [[new.directory]]
