"""Settings of the amd role: ROCm release, repository mirror, reboots."""

from pydantic import BaseModel, Field


class AmdSettings(BaseModel):
    amd_rocm: str | None = Field(None, pattern=r"^\d+\.\d+(\.\d+)?$",
                                 description="ROCm release (7.2.1, 6.4.3); None: the catalog's default.")
    amd_repo_url: str | None = Field(
        None, description="Base of AMD's repository tree (repo.radeon.com) or a mirror of it.")
    amd_allow_reboot: bool = Field(
        False, description="Reboot when the kernel runs another amdgpu or lacks iommu=pt; otherwise stop.")
    amd_reboot_timeout: int = Field(900, ge=60, description="Seconds to wait for the host to come back.")
