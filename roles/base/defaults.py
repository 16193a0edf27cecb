"""Settings of the base role: packages, the service user, directories, trust, proxies, time."""

from pathlib import Path

from pydantic import BaseModel, Field


class BaseSettings(BaseModel):
    # Service identity
    base_service_user: str = Field("glmstack", pattern=r"^[a-z_][a-z0-9_-]{0,30}$",
                                   description="Unprivileged user the engine runs as.")
    base_service_group: str = Field("glmstack", pattern=r"^[a-z_][a-z0-9_-]{0,30}$",
                                    description="Primary group of the service user.")
    # Directories
    base_prefix: str = Field("/opt/glmstack", pattern=r"^/[\w./-]+$", json_schema_extra={"host_path": True},
                             description="Where programs (builds, virtual environments) are installed.")
    base_state_dir: str = Field(
        "/var/lib/glmstack", pattern=r"^/[\w./-]+$",
        json_schema_extra={"host_path": True},
        description="Weights, ready markers and engine homes (root-owned; the engine writes only its home).")
    base_config_dir: str = Field("/etc/glmstack", pattern=r"^/[\w./-]+$", json_schema_extra={"host_path": True},
                                 description="Environment files and secrets (root-owned, 0700).")
    # Packages
    base_packages: list[str] = Field([], description="Extra OS packages to install on every host.")
    # Trust and proxies (labs behind an inspecting proxy need all three)
    base_extra_ca_certs: list[Path] = Field(
        [], description="PEM certificates on the control machine to add to the host's trust store.")
    base_http_proxy: str | None = Field(None, description="HTTP proxy for apt, downloads and engines.")
    base_https_proxy: str | None = Field(None, description="HTTPS proxy for apt, downloads and engines.")
    base_no_proxy: str | None = Field(None, description="Comma-separated hosts that bypass the proxy.")
    # Time
    base_time_sync: bool = Field(True, description="Install and enable systemd-timesyncd (skipped in containers).")
