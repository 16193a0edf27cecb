"""NVIDIA host data: CUDA line, driver pin, mirror and engine wheels resolved or refused, per field."""

from __future__ import annotations

import pytest

from glmstack.config import HostDataError, resolve
from glmstack.render import render_env_file, render_unit

H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
SGLANG_B200 = {"accelerator": "b200", "model": "glm-5.2-fp8", "engine": "sglang"}


def problems(data: dict) -> str:
    with pytest.raises(HostDataError) as error:
        resolve("gpu-1", data)
    return str(error.value)


def test_defaults_are_cuda_13_on_the_pinned_580_driver():
    nvidia = resolve("gpu-1", H200).nvidia
    assert (nvidia.cuda_line, nvidia.driver_branch, nvidia.driver_version) == ("13.0", "580", "580.105.08")
    assert nvidia.toolkit_package == "cuda-toolkit-13-0" and nvidia.dcgm_package is None


def test_cuda_129_takes_vllms_cu129_wheel_and_torch_backend():
    env = resolve("gpu-1", {**H200, "nvidia_cuda": "12.9"}).engine_env
    assert env.torch_backend == "cu129"
    assert env.requirements == ("vllm @ https://github.com/vllm-project/vllm/releases/download/v0.23.0/"
                                "vllm-0.23.0+cu129-cp38-abi3-manylinux_2_28_x86_64.whl", "transformers>=5.9.0")


def test_a_driver_branch_too_old_for_the_cuda_line_is_refused():
    assert ("host gpu-1: field nvidia_driver_branch: CUDA 13.0 needs driver branch 580 or newer; got 575"
            in problems({**H200, "nvidia_driver_branch": "575"}))


def test_cuda_129_on_575_is_allowed():
    nvidia = resolve("gpu-1", {**H200, "nvidia_cuda": "12.9", "nvidia_driver_branch": "575"}).nvidia
    assert nvidia.driver_version == "575.57.08" and nvidia.toolkit_package == "cuda-toolkit-12-9"


def test_an_exact_version_must_be_on_its_branch():
    assert "field nvidia_driver_version: 575.57.08 is not on driver branch 580" in problems(
        {**H200, "nvidia_driver_branch": "580", "nvidia_driver_version": "575.57.08"})


def test_unknown_cuda_line_lists_the_allowed_ones():
    assert "field nvidia_cuda: '12.4' is not a CUDA line glmstack installs; allowed: 12.9, 13.0" in problems(
        {**H200, "nvidia_cuda": "12.4"})


def test_sglang_is_built_for_cuda_13_only():
    assert "field nvidia_cuda: sglang 0.5.21 is built for CUDA 13.0 only; got 12.9" in problems(
        {**SGLANG_B200, "nvidia_cuda": "12.9", "nvidia_driver_branch": "580"})


def test_nvidia_settings_on_other_hardware_are_refused():
    assert "field nvidia_cuda: only applies to NVIDIA accelerators; cpu is a plain CPU" in problems(
        {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp",
         "model_source": "/srv/models/glm", "model_entry": "glm.gguf", "nvidia_cuda": "13.0"})


@pytest.mark.parametrize("url", ["ftp://mirror/cuda", "https://user:secret@mirror.lab/cuda/repos"])
def test_bad_mirror_urls_are_refused(url):
    text = problems({**H200, "nvidia_repo_url": url})
    assert "field nvidia_repo_url:" in text and "secret" not in text


def test_vllm_unit_runs_as_the_service_user_with_exactly_the_gpus():
    plan = resolve("gpu-1", H200)
    unit = render_unit(plan)
    assert "User=glmstack" in unit and "DevicePolicy=closed" in unit and "PrivateDevices" not in unit
    allowed = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("DeviceAllow=")]
    assert allowed == [f"{device} rw" for device in ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                                      *(f"/dev/nvidia{i}" for i in range(8))]]
    assert "PrivateIPC" not in unit and "MemoryDenyWriteExecute" not in unit  # /dev/shm shared; JIT allowed
    assert "TimeoutStartSec=infinity" in unit and "LimitMEMLOCK=infinity" in unit
    assert f"ExecStart={plan.engine_env.directory}/bin/vllm serve" in unit
    env = render_env_file(plan)
    assert 'CUDA_HOME="/usr/local/cuda-13.0"' in env and 'HF_HUB_OFFLINE="1"' in env
    assert plan.ready_timeout == 3600


def test_a_new_engine_pin_is_a_new_environment_directory():
    base = resolve("gpu-1", H200).engine_env
    other = resolve("gpu-1", {**H200, "nvidia_cuda": "12.9"}).engine_env
    assert base.directory != other.directory and base.directory.startswith("/opt/glmstack/venvs/vllm-0.23.0-")
