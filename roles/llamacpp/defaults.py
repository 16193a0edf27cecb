"""Settings of the llamacpp role: which llama.cpp to build, from where, and how."""

from pydantic import BaseModel, Field


class LlamaCppSettings(BaseModel):
    # Source
    llamacpp_version: str | None = Field(
        None, pattern=r"^[\w.-]+$",
        description="Release tag or commit to build; None: the catalog's pin.")
    llamacpp_source: str | None = Field(
        None, description="git URL, https tarball URL, or a tarball path on the control machine; "
                          "None: the catalog's upstream git URL.")
    llamacpp_source_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="sha256 of a tarball source (required for URLs).")
    # Build
    llamacpp_backend: str | None = Field(None, description="cpu | cuda | hip | cann; None: from the accelerator.")
    llamacpp_cmake_flags: list[str] = Field([], description="Extra CMake flags, appended to the backend's.")
    llamacpp_build_jobs: int | None = Field(None, ge=1, le=1024, description="Parallel build jobs; None: all cores.")
    llamacpp_ccache_dir: str | None = Field(
        None, pattern=r"^/[\w./-]+$", json_schema_extra={"host_path": True},
        description="ccache directory on the host, to speed up rebuilds.")
