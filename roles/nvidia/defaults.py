"""Settings of the nvidia role: CUDA line, driver pin, repository mirror, reboots, DCGM."""

from pydantic import BaseModel, Field


class NvidiaSettings(BaseModel):
    nvidia_cuda: str | None = Field(
        None, pattern=r"^\d+\.\d+$", description="CUDA line (12.9 or 13.0); None: the accelerator's default.")
    nvidia_driver_branch: str | None = Field(
        None, pattern=r"^\d{3}$", description="Driver branch; None: the newest branch the catalog pins.")
    nvidia_driver_version: str | None = Field(
        None, pattern=r"^\d{3}\.\d+(\.\d+)?$",
        description="Exact driver version to install and hold; None: the catalog's pin for the branch.")
    nvidia_repo_url: str | None = Field(
        None, description="Base of NVIDIA's CUDA repository tree (.../compute/cuda/repos) or a mirror of it.")
    nvidia_allow_reboot: bool = Field(
        False, description="Reboot when the loaded driver is not the installed one; otherwise stop and say so.")
    nvidia_reboot_timeout: int = Field(900, ge=60, description="Seconds to wait for the host to come back.")
    nvidia_dcgm: bool = Field(False, description="Install and run DCGM (nvidia-dcgm) for GPU health.")
