"""Settings of the gateway role: HAProxy in front of the engine (TLS, API keys, replica groups)."""

from pydantic import BaseModel, Field


class GatewaySettings(BaseModel):
    gateway_enabled: bool = Field(
        True, description="HAProxy in front of the engine on every host serving the API: TLS on `port`, the API "
                          "key checked there, the engine on loopback only; false: the engine serves `port` itself.")
    gateway_group: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Replica group: hosts each serving the same model alone; each member's gateway balances "
                    "over every member's engine and routes around one that is down.")
    gateway_engine_port: int | None = Field(
        None, ge=1, le=65535, description="Loopback port the engine listens on behind the gateway; None: `port` "
                                          "+ 10000 (or - 10000 above 55535).")
    gateway_peer_port: int | None = Field(
        None, ge=1, le=65535, description="Port the group's members reach each other's engine on (plain HTTP, "
                                          "only the group's addresses may connect); None: the engine port + 1.")
    gateway_tls_cert_file: str | None = Field(
        None, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Local PEM certificate (chain) for the gateway; None: glmstack makes a CA and a "
                    "certificate it signs.")
    gateway_tls_key_file: str | None = Field(
        None, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Local 0600 PEM private key of gateway_tls_cert_file.")
    gateway_tls_names: list[str] = Field(
        [], description="More names or addresses for the made certificate's SANs (beyond the host's address "
                        "and name).")
    gateway_timeout: int = Field(
        3600, ge=10, le=86400, description="Seconds a request may take (a long streamed answer) before the "
                                           "gateway gives up on it.")
