"""Settings of the service role: the systemd unit that runs the engine."""

from pathlib import Path

from pydantic import BaseModel, Field


class ServiceSettings(BaseModel):
    service_bind_host: str = Field("0.0.0.0", description="Address the engine listens on.")
    service_ready_timeout: int | None = Field(
        None, ge=10, description="Seconds to wait for the engine to report healthy after a (re)start; "
                                 "None: the engine's (an hour for vLLM and SGLang).")
    service_require_api_key: bool | None = Field(
        None, description="Clients must send the API key (Authorization: Bearer); None: required unless the "
                          "engine listens on loopback only.")
    service_api_key_file: Path | None = Field(
        None, description="Local 0600 file holding the API key to install; None: the host makes one and keeps "
                          "it in /etc/glmstack/<unit>.api-key (root only).")
    service_restart_sec: int = Field(10, ge=1, le=3600, description="Delay before systemd restarts a failed engine.")
