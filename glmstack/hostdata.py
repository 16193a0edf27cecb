"""Host data's schema: the settings every host gives (DeploymentSettings), each role's (from the role
registry), and the errors that name a host, field and what is allowed."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from glmstack.bundle import bundle_source_problem
from glmstack.secrets import SECRET_FILES_IN_WORDS, env_name_says_secret, plain_switch, redact
from glmstack.shape import MAX_STRING
from roles.registry import ROLES, Role, role_settings

API_KEY = re.compile(r"[\w.~+/=-]{16,256}")


class HostDataError(ValueError):
    """Host data that cannot work, with every problem named by host and field."""

    def __init__(self, host: str, problems: list[tuple[str, str]]):
        self.host = host
        self.problems = problems
        lines = [redact(f"host {host}: field {field}: {message}") for field, message in problems]
        super().__init__("\n".join(lines))


class InventoryError(ValueError):
    """Problems in several hosts' data, one line per problem (never a secret: redacted)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


class DeploymentSettings(BaseModel):
    accelerator: str = Field(description="Accelerator id from the catalog (cpu, h200, ...).")
    model: str = Field(description="Model id from the catalog (glm-5.2-fp8, ...).")
    engine: str = Field(description="Engine id from the catalog (vllm, sglang, vllm-ascend, llama.cpp).")
    recipe_variant: str | None = Field(None, description="Recipe variant; None: the seed's recommended one.")
    deployment: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$",
                                   description="Name shared by hosts serving one model together; the first "
                                               "host listed is rank 0.")
    address: str | None = Field(None, pattern=r"^[\w.:-]+$",
                                description="Address other nodes reach this host on; None: the host name.")
    network_interface: str | None = Field(None, pattern=r"^[\w.-]+$",
                                          description="NIC for collective traffic (multi-node deployments).")
    served_model_name: str | None = Field(None, pattern=r"^[\w.:/-]+$",
                                          description="Name clients use in requests; None: the model id.")
    port: int | None = Field(None, ge=1, le=65535, description="Port the engine listens on.")
    max_model_len: int | None = Field(None, gt=0, description="Context length per sequence.")
    max_num_seqs: int | None = Field(None, gt=0, description="Sequences served concurrently.")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1,
                                                 description="Share of accelerator memory the engine may use.")
    num_speculative_tokens: int | None = Field(None, ge=0, description="MTP draft tokens; 0 turns MTP off.")
    extra_flags: list[str] = Field([], description="Extra engine arguments, appended verbatim.")
    engine_requirement: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]+ @ (https?://\S+#sha256=[0-9a-f]{64}|git\+https?://\S+@[0-9a-f]{40})$",
        description="A build of the engine to install instead of the catalog's release, pinned: "
                    "'vllm @ https://host/vllm-....whl#sha256=<64 hex>' or "
                    "'vllm @ git+https://host/repo.git@<40-hex commit>' (a patched engine).")
    extra_env: dict[str, str] = Field({}, description="Extra environment for the engine (no secrets).")
    bundle: str | None = Field(
        None, description="A bundle (glmstack bundle): its directory on the control machine or its http(s) URL on "
                          "the lab network; the deploy then takes every package, tool and source from it and "
                          "contacts nothing outside the lab.")

    @field_validator("bundle")
    @classmethod
    def _bundle_is_usable(cls, bundle: str | None) -> str | None:
        problem = bundle_source_problem(bundle) if bundle is not None else None
        if problem:
            raise ValueError(problem)
        return bundle

    @field_validator("extra_env")
    @classmethod
    def _no_inline_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if env_name_says_secret(name) and not plain_switch(value):
                raise ValueError(f"{name} looks like a secret; secrets go in {SECRET_FILES_IN_WORDS}, "
                                 "never in extra_env")
        return env


class HostChecks(BaseModel):
    """What HostConfig checks beyond each setting's own type: files on this machine that settings of
    several roles name, and how strictly every value is read."""

    # Strict: a boolean is never a number nor a number a boolean, "8000" is not a port, a tuple is
    # not a list. Unknown keys and control characters are refused before (glmstack.shape).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, str_max_length=MAX_STRING)

    @model_validator(mode="before")
    @classmethod
    def _paths_from_strings(cls, data: Any) -> Any:
        """Paths are written as strings (strict mode would take only Path objects)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in ("ascend_manifest", "model_modelscope_token_file", "model_hf_token_file", "service_api_key_file"):
            if isinstance(data.get(name), str) and data[name]:
                data[name] = Path(data[name])
        if isinstance(data.get("base_extra_ca_certs"), list):
            data["base_extra_ca_certs"] = [Path(item) if isinstance(item, str) and item else item
                                           for item in data["base_extra_ca_certs"]]
        return data

    @field_validator("model_hf_token_file", "model_modelscope_token_file", "service_api_key_file", check_fields=False)
    @classmethod
    def _secret_file_is_private(cls, secret: Path | None) -> Path | None:
        if secret is not None:
            if not secret.is_file():
                # Never the value: a token pasted here instead of its file's path would be shown.
                raise ValueError("is not a file on this machine (the value is not shown: it may be the secret "
                                 "itself); give the path of a 0600 file that holds the secret")
            if stat.S_IMODE(secret.stat().st_mode) & 0o077:
                raise ValueError(f"{secret} is readable by others; chmod 600 it")
        return secret

    @field_validator("base_extra_ca_certs", check_fields=False)
    @classmethod
    def _ca_certs_are_certificates(cls, certs: list[Path]) -> list[Path]:
        # Checked here, before any host is contacted: the deploy copies each into the trust store 0644.
        for at, cert in enumerate(certs, start=1):
            problem = ca_certificate_problem(cert)
            if problem:
                raise ValueError(f"item {at} ({cert}) {problem}")
        return certs

    @field_validator("service_api_key_file", check_fields=False)
    @classmethod
    def _api_key_is_one_word(cls, key_file: Path | None) -> Path | None:
        # Never echo the content: the message would put the key in a terminal or CI log.
        if key_file is not None and not API_KEY.fullmatch(key_file.read_bytes().decode(errors="replace").strip()):
            raise ValueError(f"{key_file} must hold one key of 16 to 256 letters, digits or -._~+/= "
                             "(clients send it in an Authorization header)")
        return key_file


PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END \1-----")


def ca_certificate_problem(path: Path) -> str | None:
    """Why a file is not PEM certificates for the trust store, or None. Never shows the content."""
    if not path.is_file():
        return "is not a file on this machine; give the path of a PEM certificate file"
    if path.stat().st_size > 1_000_000:
        return "is over 1 MB; a PEM CA file holds a few kilobytes of certificates"
    try:
        text = path.read_bytes().decode("ascii")
    except OSError:
        return "cannot be read here; make it readable by the user running glmstack"
    except UnicodeDecodeError:
        return "is not PEM text (a DER certificate? convert it: openssl x509 -inform der -in FILE -out FILE.pem)"
    if "PRIVATE KEY" in text:
        return ("holds a private key: it would be installed world-readable (0644) in the trust store; give the "
                "CA's certificate only")
    blocks = PEM_BLOCK.findall(text)
    if not blocks or any(kind != "CERTIFICATE" for kind, _ in blocks):
        return "is not PEM certificates: give one or more -----BEGIN CERTIFICATE----- blocks"
    for _, body in blocks:
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except ValueError:
            der = b""
        if len(der) < 64 or der[0] != 0x30:  # an X.509 certificate is a DER SEQUENCE
            return "holds a CERTIFICATE block that is not a certificate (bad base64 or not DER)"
    return None


def host_config_bases(roles: tuple[Role, ...] = ROLES) -> tuple[type[BaseModel], ...]:
    """HostConfig's parents for these roles: its checks, the deployment's settings, then each role's
    Settings class in registry order."""
    return (HostChecks, DeploymentSettings, *role_settings(roles))


class HostConfig(*host_config_bases()):
    """Every setting a host's data may give: the deployment's, then each role's (roles/registry.py)."""


def host_config_model(roles: tuple[Role, ...]) -> type[BaseModel]:
    """HostConfig as it would be for another tuple of roles (what tests/unit/test_role_registry.py
    adds a role to)."""
    return type("HostConfig", host_config_bases(roles), {"__module__": __name__, "__doc__": HostConfig.__doc__})
