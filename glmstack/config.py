"""Host data: the typed schema, its validation against the catalog, and the resolved plan.

Everything a role needs is computed here once, from host data plus the catalog, so a bad
value is reported (host, field, what is allowed) before any host is contacted. `glmstack plan`
and the deploy both call `resolve_inventory`: what plan shows is what runs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import ipaddress
import json
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glmstack.ascend import check_package_set, load_manifest
from glmstack.catalog import (
    ASCEND_COMPONENTS,
    COMMIT_SHA,
    Catalog,
    Engine,
    EngineLimitation,
    Parallelism,
    PythonWheels,
    RayCluster,
    Recipe,
    RpcWorker,
    load_catalog,
)
from glmstack.quoting import shown
from glmstack.render import (
    FINGERPRINT_VARIABLE,
    NODE_WAIT_SECONDS,
    PROXY_SETTINGS,
    environment_fields,
)
from glmstack.secrets import (
    SECRET_FILE_SETTINGS,
    SECRET_FILES_IN_WORDS,
    SECRET_FLAGS,
    carrier_of,
    env_name_says_secret,
    flag_name,
    flag_says_secret,
    high_entropy,
    plain_switch,
    redact,
    secret_in,
    shape_of,
    url_secret,
)
from glmstack.shape import MAX_STRING, SAFE_LABEL, data_problems, entry_problems, ip_address_of
from glmstack.sizing import Sizing, size
from glmstack.values import host_port, is_ipv6, url_host, value_problems
from roles.amd.defaults import AmdSettings
from roles.ascend.defaults import AscendSettings
from roles.base.defaults import BaseSettings
from roles.llamacpp.defaults import LlamaCppSettings
from roles.model.defaults import ModelSettings
from roles.nvidia.defaults import NvidiaSettings
from roles.service.defaults import ServiceSettings

HUB_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
# Settings that only one vendor's stack understands; elsewhere they are a copy from the wrong recipe.
VENDOR_ONLY_MARKERS = {
    "amd": ("aiter", "VLLM_ROCM_"),
    "huawei": ("HCCL_", "VLLM_ASCEND_", "--quantization ascend", "PYTORCH_NPU_"),
}
API_KEY = re.compile(r"[\w.~+/=-]{16,256}")
HOST_TUNABLES = ("max_model_len", "max_num_seqs", "gpu_memory_utilization", "num_speculative_tokens")


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

    @field_validator("extra_env")
    @classmethod
    def _no_inline_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if env_name_says_secret(name) and not plain_switch(value):
                raise ValueError(f"{name} looks like a secret; secrets go in {SECRET_FILES_IN_WORDS}, "
                                 "never in extra_env")
        return env


class HostConfig(DeploymentSettings, BaseSettings, LlamaCppSettings, ModelSettings, NvidiaSettings,
                 AmdSettings, AscendSettings, ServiceSettings):
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

    @field_validator("model_hf_token_file", "model_modelscope_token_file", "service_api_key_file")
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

    @field_validator("base_extra_ca_certs")
    @classmethod
    def _ca_certs_are_certificates(cls, certs: list[Path]) -> list[Path]:
        # Checked here, before any host is contacted: the deploy copies each into the trust store 0644.
        for at, cert in enumerate(certs, start=1):
            problem = ca_certificate_problem(cert)
            if problem:
                raise ValueError(f"item {at} ({cert}) {problem}")
        return certs

    @field_validator("service_api_key_file")
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


@dataclass(frozen=True)
class GraftPlan:
    """Weights the host makes from two downloaded checkpoints with the delta's own script."""

    base: tuple[str, ModelPlan]  # (model id, how it is fetched)
    delta: tuple[str, ModelPlan]
    script: str
    arguments: tuple[str, ...]
    index_prefix: str
    config_key: str

    def command(self, out: str) -> list[str]:
        values = {"base": self.base[1].directory, "delta": self.delta[1].directory, "out": out}
        return ["/bin/bash", posixpath.join(self.delta[1].directory, self.script), *_fill(list(self.arguments), values)]


@dataclass(frozen=True)
class ModelPlan:
    kind: Literal["hf", "modelscope", "http", "path", "graft"]
    source: str
    directory: str
    entry: str | None
    revision: str | None = None
    include: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    token_file: Path | None = None
    exclude: tuple[str, ...] = ()
    endpoint: str | None = None
    graft: GraftPlan | None = None

    @property
    def entry_path(self) -> str:
        """What the engine is given: the entry file (GGUF), or the checkpoint directory."""
        return posixpath.join(self.directory, self.entry) if self.entry else self.directory

    @property
    def fingerprint(self) -> str:
        """Identifies exactly which bytes are wanted; a ready marker holding it means done."""
        parts = [self.kind, self.source, self.directory, self.entry or "", self.revision or "", *self.include,
                 *(f"{name}={digest}" for name, digest in self.files), *(f"!{pattern}" for pattern in self.exclude)]
        if self.graft is not None:
            parts += [self.graft.base[1].fingerprint, self.graft.delta[1].fingerprint, self.graft.script,
                      *self.graft.arguments]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class LlamaCppPlan:
    version: str
    source: str
    source_kind: Literal["git", "url", "local"]
    source_sha256: str | None
    backend: str
    cmake_flags: tuple[str, ...]
    build_packages: tuple[str, ...]
    build_jobs: int | None
    ccache_dir: str | None
    prefix: str
    # Built and installed beside llama-server (the RPC worker's server).
    extra_binaries: tuple[str, ...] = ()

    @property
    def build_key(self) -> str:
        """Builds are keyed by version and flags: same key, same binary, never rebuilt."""
        digest = hashlib.sha256("\n".join([self.version, self.backend, *self.cmake_flags]).encode())
        return f"{self.version[:12]}-{self.backend}-{digest.hexdigest()[:8]}"

    @property
    def install_dir(self) -> str:
        return posixpath.join(self.prefix, "llama.cpp", self.build_key)


@dataclass(frozen=True)
class NvidiaPlan:
    """The driver, toolkit and fabric a host gets, resolved from the catalog and host data."""

    repo_url: str
    keyring_deb: str
    keyring_file: str
    key_fingerprint: str
    distributions: tuple[tuple[str, str], ...]
    architectures: tuple[tuple[str, str], ...]
    cuda_line: str
    toolkit_package: str
    cuda_home: str
    driver_branch: str
    driver_version: str
    driver_packages: tuple[str, ...]
    fabricmanager_packages: tuple[str, ...]
    nvlink5: bool
    nvlink5_packages: tuple[str, ...]
    nvlink5_modules: tuple[str, ...]
    version_globs: tuple[str, ...]
    build_packages: tuple[str, ...]
    nvswitch_pci_class: str
    allow_reboot: bool
    reboot_timeout: int
    dcgm_package: str | None
    # RHEL 9 (dnf): the branch's module stream and package names, and what holds them.
    rpm_gpg_key: str = ""
    rpm_key_sha256: str = ""
    rpm_key_file: str = ""
    rpm_module_stream: str = ""
    rpm_driver_packages: tuple[str, ...] = ()
    rpm_fabricmanager_packages: tuple[str, ...] = ()
    rpm_nvlink5_packages: tuple[str, ...] = ()
    rpm_version_globs: tuple[str, ...] = ()
    rpm_versionlock_package: str = ""
    rpm_required_repositories: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AmdPlan:
    """ROCm, the amdgpu driver and the boot parameters a host gets."""

    repo_url: str
    upstream_url: str
    installer_deb: str
    installer_rpm: str
    key_url: str
    key_fingerprint: str
    rpm_key_file: str
    codenames: tuple[tuple[str, str], ...]
    rocm: str
    package_version: str
    split_driver: bool
    driver_packages: tuple[str, ...]
    kernel_packages: tuple[str, ...]
    rpm_kernel_packages: tuple[str, ...]
    rpm_versionlock_package: str
    rocm_packages: tuple[str, ...]
    held_packages: tuple[str, ...]
    kernel_parameters: tuple[str, ...]
    library_paths: tuple[str, ...]
    gfx_arch: str
    allow_reboot: bool
    reboot_timeout: int


@dataclass(frozen=True)
class AscendPackagePlan:
    """One installer of the package set, with how it installs and where it leaves its version."""

    component: str
    file: str
    version: str
    sha256: str
    fresh: tuple[str, ...]
    upgrade: tuple[str, ...]
    version_files: tuple[str, ...]
    version_key: str
    needs_reboot: bool
    cann: bool  # one of the CANN parts, whose environment the engine reads


@dataclass(frozen=True)
class AscendPlan:
    """The NPU driver, firmware and CANN a host gets from the operator's package set."""

    source: str | None  # a directory on the control machine or an http(s) base URL; None: not given
    local: bool
    packages: tuple[AscendPackagePlan, ...]  # in install order of a fresh machine
    arch: str | None
    cann: str
    user: str
    group: str
    home: str
    set_env: tuple[tuple[str, ...], ...]  # per CANN part, its script's possible places
    environment_variables: tuple[str, ...]
    state_dir: str
    allow_reboot: bool
    reboot_timeout: int
    npus: int
    # Each NPU's RoCE address (NPU 0 first) and their netmask, set with hccn_tool; () where the host
    # data gives none (a lone node, whose HCCL stays on the board).
    roce_addresses: tuple[str, ...] = ()
    roce_netmask: str | None = None
    hccn_tool: str = ""

    @property
    def roce_subnet(self) -> ipaddress.IPv4Network | None:
        if not self.roce_addresses or self.roce_netmask is None:
            return None
        return ipaddress.IPv4Network(f"{self.roce_addresses[0]}/{self.roce_netmask}", strict=False)

    def package(self, component: str) -> AscendPackagePlan:
        return next(package for package in self.packages if package.component == component)

    @property
    def staging_dir(self) -> str:
        return posixpath.join(self.state_dir, "ascend", "packages")

    @property
    def reboot_stamp(self) -> str:
        """Holds the boot id under which the driver or firmware was installed: a reboot is pending
        while the host still runs that boot."""
        return posixpath.join(self.state_dir, "ascend", "reboot-pending")


@dataclass(frozen=True)
class EngineEnvPlan:
    """A Python engine's virtual environment: what uv installs, where, and how it is proven."""

    engine: str
    version: str
    prefix: str
    requirements: tuple[str, ...]
    torch_backend: str | None
    system_packages: tuple[str, ...]
    extra_index_urls: tuple[str, ...]
    python: str | None
    build_env: tuple[tuple[str, str], ...]
    version_check: tuple[str, ...]
    version_check_needs_gpu: bool
    imports: tuple[str, ...]
    gpu_imports: tuple[str, ...]
    # The host's proxies, for the package index (not part of what is installed).
    proxy_env: tuple[tuple[str, str], ...] = ()
    # The host's own build of the engine (engine_requirement), pinned by its sum or commit, not
    # by the catalog's version.
    build: str | None = None
    # Shell scripts sourced before the install's checks run: of each group, the first that exists.
    source_files: tuple[tuple[str, ...], ...] = ()
    # The CPU architecture the environment is made for (what {arch} and per-architecture data take).
    arch: str = "x86_64"
    # Built from source on the host against the environment's own packages, after build_requirements.
    source_packages: tuple[str, ...] = ()
    build_requirements: tuple[str, ...] = ()
    # Packages of the set that only another index than PyPI publishes: (package, that index).
    index_only: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        if self.build is None:
            return f"{self.engine} {self.version}"
        return f"{self.engine} build {re.split(r'#sha256=|@', self.build)[-1][:12]}"

    @property
    def install_key(self) -> str:
        """Environments are keyed by what is installed: same key, same environment, never rebuilt."""
        material = "\n".join([self.engine, self.version, self.torch_backend or "", *self.requirements,
                              *self.extra_index_urls, self.python or "", *(f"{k}={v}" for k, v in self.build_env),
                              *(f"source:{name}" for name in self.source_packages),
                              *(f"build:{requirement}" for requirement in self.build_requirements)])
        return f"{self.engine}-{self.version}-{hashlib.sha256(material.encode()).hexdigest()[:8]}"

    @property
    def directory(self) -> str:
        return posixpath.join(self.prefix, "venvs", self.install_key)

    @property
    def before_source_builds(self) -> tuple[str, ...]:
        """What is installed before the source packages are built against it."""
        return self.build_requirements + tuple(r for r in self.requirements
                                               if _requirement_name(r) not in self.source_packages)


@dataclass(frozen=True)
class ApiKeyPlan:
    """The key clients must send. It lives on the host in a root-only file (what operators read)
    and reaches the engine through a root-only environment file, never its command line."""

    key_file: str
    env_file: str
    variable: str
    # The operator's key to install; None: the host makes one, and it never leaves the host.
    local_file: Path | None = None

    @property
    def local_key_id(self) -> str | None:
        """The id ApiKeyState reports once the local key is installed."""
        if self.local_file is None:
            return None
        return hashlib.sha256(self.local_file.read_text().strip().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RayPlan:
    """This node's part in its deployment's Ray cluster (the unit is `ray_unit(plan)`)."""

    unit_name: str
    head: str  # the head's address
    port: int  # the head's GCS port
    nodes: tuple[str, ...]  # every node's address, the head first
    args: tuple[str, ...]  # after the `ray` binary
    env: tuple[tuple[str, str], ...]
    temp_dir: str  # sessions, sockets and logs: the engine on the head reaches Ray through it
    version: str
    node_manager_port: int  # every node's raylet: what tells a node's Ray is up
    ports: tuple[str, ...]

    @property
    def gcs(self) -> str:
        return host_port(self.head, self.port)


@dataclass(frozen=True)
class DeployPlan:
    host: str
    config: HostConfig
    model: ModelPlan
    engine_name: str
    engine_installable: bool
    unit_name: str
    binary: str
    port: int
    served_model_name: str
    health_path: str | None  # None: probed by a TCP connection to listen_address:port
    seed: str
    recipe_variant: str
    recipe_note: str
    serve_argv: tuple[str, ...]
    sizing: Sizing
    serve_env: dict[str, str] = field(default_factory=dict)
    device_allow: tuple[str, ...] = ()
    supplementary_groups: tuple[str, ...] = ()
    unit_hardening: tuple[tuple[str, str], ...] = ()
    address_families: tuple[str, ...] = ("AF_UNIX", "AF_INET", "AF_INET6")
    accelerator_cpu_arch: tuple[str, ...] = ()
    accelerator_vendor: str = "none"
    accelerator_pci_vendor: str | None = None
    accelerator_pci_classes: tuple[str, ...] = ()
    devices_per_node: int = 0
    deployment: str | None = None
    rank: int = 0
    nodes: int = 1
    head_address: str | None = None
    llamacpp: LlamaCppPlan | None = None
    nvidia: NvidiaPlan | None = None
    amd: AmdPlan | None = None
    ascend: AscendPlan | None = None
    engine_env: EngineEnvPlan | None = None
    api_key: ApiKeyPlan | None = None
    # Weights passed on over the lab network: the host this one gets them from (its address, and
    # its inventory name), or the hosts this one passes them to (inventory name, address).
    weights_seed: str | None = None
    weights_seed_host: str | None = None
    weights_peers: tuple[tuple[str, str], ...] = ()
    ready_timeout: int = 900
    # A multi-node deployment over RPC workers (llama.cpp): on a worker, the address the head
    # connects from (it runs the RPC server, not the engine, and needs no weights); on the head,
    # each worker's address:port.
    rpc_head: str | None = None
    rpc_workers: tuple[str, ...] = ()
    # A deployment on a Ray cluster: every node runs Ray, the head also the engine.
    ray: RayPlan | None = None
    # Ports the deployment's nodes reach each other on: only they (and the node itself) may connect.
    cluster_ports: tuple[str, ...] = ()
    cluster_peers: tuple[str, ...] = ()
    # Beyond its home, what the unit may write (the Ray sessions, for the engine on a Ray head).
    writable_paths: tuple[str, ...] = ()
    # What the engine release is known not to do that this host's command asks for (catalog data).
    limitations: tuple[EngineLimitation, ...] = ()

    @property
    def rpc_worker(self) -> bool:
        return self.rpc_head is not None

    @property
    def serves_api(self) -> bool:
        """False on a node that only lends its accelerators to its deployment's head: an RPC or Ray
        worker, or a headless rank of the engine's own multi-node mode."""
        return self.rank == 0

    @property
    def probe(self) -> str:
        """How the deploy tells the unit is ready: "http" (the engine's health endpoint), "tcp"
        (a worker's port: RPC, Ray) or "active" (a headless rank, which listens on nothing of its
        own: the unit running is all there is to see until the head is up)."""
        if self.health_path is None:
            return "tcp"
        return "http" if self.serves_api else "active"

    @property
    def node_address(self) -> str:
        return self.config.address or self.host

    @property
    def weights_share_url(self) -> str | None:
        return f"http://{host_port(self.weights_seed, self.config.model_share_port)}" if self.weights_seed else None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.health_path}"

    @property
    def listen_address(self) -> str:
        """Where the unit's server listens: the engine's bind address, or (a unit probed by TCP, an
        RPC or Ray worker's) the node's own address."""
        return self.node_address if self.health_path is None else self.config.service_bind_host


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        # Dict keys and list positions after the field (extra_env.NAME, extra_flags.2); a key that
        # is not one word is not repeated (the field stays one word in the line).
        field, *inner = item["loc"] or ("(data)",)
        where = ".".join([str(field), *(str(part) for part in inner if re.fullmatch(r"[\w.:/+-]{1,64}", str(part)))])
        message = item["msg"].removeprefix("Value error, ")
        if message == "Input should be an instance of Path":
            message = "Input should be a path (a non-empty string)"
        if item["type"] == "missing":
            message = "is required"
        elif isinstance(item.get("input"), (str, int, float, bool)) and field != "extra_env" and \
                field not in SECRET_FILE_SETTINGS and len(repr(item["input"])) <= 200:
            # Scalars only: echoing a dict or list could print a secret a user pasted inline.
            message = f"{message} (got {item['input']!r})"
        problems.append((where, message))
    return problems


def _choice(kind: str, value: str, allowed: list[str]) -> tuple[str, str]:
    return (kind, f"{value!r} is not a known {kind}; allowed: {', '.join(sorted(allowed))}")


# A model file's name, as it reaches the weights script and the mirror's URLs: path parts of safe
# characters, none empty, "." or "..", none starting with "-"; .cache/ is glmstack's and the hub
# client's own.
MODEL_FILE_NAME = re.compile(r"(?!\.cache/)(?!(?:[^/]*/)*\.\.?(?:/|$))"
                             r"[A-Za-z0-9._+@=,][A-Za-z0-9._+@=,-]*(?:/[A-Za-z0-9._+@=,][A-Za-z0-9._+@=,-]*)*")


def _relative_inside(path: str) -> bool:
    return not path.startswith("/") and ".." not in path.split("/")


def _credentials_in_url(url: str) -> bool:
    """Credentials anywhere in a URL: a user or password (user:password@; on ssh:// a password),
    a signed or token query (X-Amz-Signature=, sig=, token=, ...), or a secret's shape."""
    return url_secret(url) is not None or shape_of(url) is not None


def _is_ip_address(address: str, version: int | None = None) -> bool:
    """An IP address (of `version` 4 or 6, when given)."""
    ip = ip_address_of(address)
    return ip is not None and version in (None, ip.version)


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _plan_api_key(config: HostConfig, catalog: Catalog, problems: list) -> ApiKeyPlan | None:
    """On by default wherever the engine listens beyond loopback; off only when the host data says so."""
    required = config.service_require_api_key
    if required is None:
        required = config.service_api_key_file is not None or not _loopback(config.service_bind_host)
    if not required:
        if config.service_api_key_file is not None:
            problems.append(("service_api_key_file", "a key is given but service_require_api_key is false; "
                                                     "drop one of the two"))
        return None
    engine = catalog.engines[config.engine]
    if engine.api_key_env is None:
        problems.append(("service_require_api_key",
                         f"{config.engine} cannot take an API key without leaking it: {engine.api_key_note}. "
                         f"Listen on loopback only (service_bind_host: 127.0.0.1, behind your own proxy), or "
                         f"set service_require_api_key: false to serve {config.service_bind_host} without one"))
        return None
    base = posixpath.join(config.base_config_dir, f"{engine.unit_name}.api-key")
    return ApiKeyPlan(key_file=base, env_file=f"{base}.env", variable=engine.api_key_env,
                      local_file=config.service_api_key_file)


def _plan_graft(config: HostConfig, catalog: Catalog, problems: list) -> ModelPlan | None:
    """The base as the host's model settings describe it; the delta from the catalog, pinned by
    model_graft_revision; both in their own directories, the merged checkpoint in the model's."""
    graft = catalog.models[config.model].graft
    base = _plan_model(config.model_copy(update={"model": graft.base, "model_dir": None, "model_graft_revision": None}),
                       catalog, problems)
    delta_problems: list = []
    delta = _plan_model(config.model_copy(update={
        "model": graft.delta, "model_source": None, "model_revision": config.model_graft_revision,
        "model_include": None, "model_exclude": [], "model_files": {}, "model_entry": None, "model_dir": None,
        "model_graft_revision": None,
    }), catalog, delta_problems)
    problems += [("model_graft_revision", f"{graft.delta} (the graft's delta): "
                                          f"{text.replace('set model_revision', 'set model_graft_revision')}")
                 if name == "model_revision" else (name, f"{graft.delta} (the graft's delta): {text}")
                 for name, text in delta_problems]
    if config.model_fetch_from is not None:
        problems.append(("model_fetch_from", f"{config.model} is grafted on each host; it cannot be passed on"))
    if base is None or delta is None or problems:
        return None
    directory = config.model_dir or posixpath.join(config.base_state_dir, "models", config.model)
    plan = GraftPlan((graft.base, base), (graft.delta, delta), graft.script, tuple(graft.arguments),
                     graft.index_prefix, graft.config_key)
    return ModelPlan("graft", f"graft of {graft.delta} onto {graft.base}", directory, None, graft=plan)


def _plan_model(config: HostConfig, catalog: Catalog, problems: list) -> ModelPlan | None:
    model = catalog.models[config.model]
    if model.graft is not None:
        return _plan_graft(config, catalog, problems)
    if config.model_graft_revision is not None:
        grafted = sorted(name for name, each in catalog.models.items() if each.graft)
        problems.append(("model_graft_revision", f"{config.model} is not grafted; models that are: "
                                                 f"{', '.join(grafted)}"))
        return None
    source = config.model_source or model.source
    if _credentials_in_url(source):
        problems.append(("model_source", "credentials in a URL end up in command lines and logs; give the "
                                         "mirror without them (tokens go in model_hf_token_file or "
                                         "model_modelscope_token_file)"))
        return None
    directory = config.model_dir or posixpath.join(config.base_state_dir, "models", config.model)
    files = tuple(sorted(config.model_files.items()))
    for name, digest in files:
        if not _relative_inside(name):
            problems.append(("model_files", f"{shown(name)} must be a relative path inside the model directory"))
        elif not MODEL_FILE_NAME.fullmatch(name):
            problems.append(("model_files", f"{shown(name)}: a file name is a normalised relative path of letters, "
                                            "digits and . _ + - @ = , (not starting with - or .cache/, no empty, "
                                            ". or .. parts)"))
        if not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            problems.append(("model_files", f"{name!r}: sha256 must be 64 lowercase hex digits"))
    if problems:
        return None  # everything below derives from these files
    entry = config.model_entry or model.entry
    if entry is None and model.format == "gguf" and len(files) == 1:
        entry = files[0][0]
    if entry is not None and not _relative_inside(entry):
        problems.append(("model_entry", f"{entry!r} must be a relative path inside the model directory"))
        return None
    needs_entry = model.format == "gguf" and entry is None

    if source.startswith(("hf://", "modelscope://")):
        kind = "hf" if source.startswith("hf://") else "modelscope"
        repo, _, inline_revision = source.split("://", 1)[1].partition("@")
        if not HUB_REPO.match(repo):
            problems.append(("model_source", f"{source!r}: a hub source is {kind}://<org>/<repo>[@<commit>]"))
        revision = config.model_revision or inline_revision or model.revision
        if not revision:
            problems.append(("model_revision", f"{kind}://{repo} needs a pinned commit: set model_revision "
                                               "to a 40-character commit sha of the repository"))
        elif not COMMIT_SHA.match(revision):
            problems.append(("model_revision", f"{revision!r} is not a 40-character commit sha"))
        if needs_entry:
            problems.append(("model_entry", "name the file the engine loads (for split GGUFs the "
                                            "-00001-of-N shard), relative to the model directory"))
        if problems:
            return None
        other = "modelscope" if kind == "hf" else "hf"
        for name in (f"model_{other}_endpoint", f"model_{other}_token_file"):
            if getattr(config, name) is not None:
                problems.append((name, f"only applies to {other}:// sources; model_source is {kind}://{repo}"))
        if problems:
            return None
        include = tuple(config.model_include if config.model_include is not None else model.include)
        endpoint = getattr(config, f"model_{kind}_endpoint")
        return ModelPlan(kind, f"{kind}://{repo}", directory, entry, revision=revision, include=include,
                         files=files, token_file=getattr(config, f"model_{kind}_token_file"),
                         exclude=tuple(config.model_exclude), endpoint=endpoint.rstrip("/") if endpoint else None)

    if source.startswith(("http://", "https://")):
        if not urlparse(source).netloc:
            problems.append(("model_source", f"{source!r} is not a URL with a host"))
        if not files:
            problems.append(("model_files", "an http(s) mirror needs every file with its sha256"))
        if needs_entry:
            problems.append(("model_entry", "name the file the engine loads"))
        elif entry is not None and files and entry not in dict(files):
            problems.append(("model_entry", f"{entry!r} is not one of model_files"))
        if problems:
            return None
        return ModelPlan("http", source.rstrip("/"), directory, entry, files=files)

    if source.startswith("/"):
        if needs_entry:
            problems.append(("model_entry", "name the file the engine loads"))
            return None
        return ModelPlan("path", source, source.rstrip("/") or "/", entry, files=files)

    problems.append(("model_source", f"{source!r}: allowed are hf://org/repo[@commit], modelscope://org/repo[@commit], "
                                     "http(s)://mirror/base, or an absolute path on the host"))
    return None


def _plan_llamacpp(config: HostConfig, catalog: Catalog, problems: list,
                   rpc: RpcWorker | None = None) -> LlamaCppPlan | None:
    engine = catalog.engines["llama.cpp"]
    backend = config.llamacpp_backend or catalog.accelerators[config.accelerator].llamacpp_backend
    if backend not in engine.backends:
        problems.append(("llamacpp_backend",
                         f"{backend!r} is not built here; allowed: {', '.join(sorted(engine.backends))}"))
        return None
    source = config.llamacpp_source or engine.source
    if _credentials_in_url(source.removeprefix("git+")):
        problems.append(("llamacpp_source", "credentials in a URL end up in command lines and logs; "
                                            "give the URL without them"))
        return None
    if source.endswith(".git") or source.startswith("git+"):
        kind = "git"
        source = source.removeprefix("git+")
    elif source.startswith(("http://", "https://")):
        kind = "url"
        if config.llamacpp_source_sha256 is None:
            problems.append(("llamacpp_source_sha256", "a tarball URL needs its sha256"))
    elif source.startswith("/"):
        kind = "local"
        if not Path(source).is_file():
            problems.append(("llamacpp_source", f"{source} is not a tarball on the control machine"))
    else:
        problems.append(("llamacpp_source", f"{source!r}: allowed are a git URL (.git), an "
                                            "http(s) tarball URL, or an absolute tarball path"))
        return None
    flags = (*engine.backends[backend].cmake_flags, *(rpc.cmake_flags if rpc else ()), *config.llamacpp_cmake_flags)
    return LlamaCppPlan(
        version=config.llamacpp_version or catalog.release_for_host(config).version,
        source=source,
        source_kind=kind,
        source_sha256=config.llamacpp_source_sha256,
        backend=backend,
        cmake_flags=flags,
        build_packages=tuple(engine.backends[backend].build_packages),
        build_jobs=config.llamacpp_build_jobs,
        ccache_dir=config.llamacpp_ccache_dir,
        prefix=config.base_prefix,
        extra_binaries=(posixpath.basename(rpc.binary),) if rpc else (),
    )


def _settings_of_other_vendors(config: HostConfig, prefix: str, vendor: str, accelerator: str,
                               actual: str) -> list[tuple[str, str]]:
    """Settings given for one vendor's role on another vendor's hardware: a copy from the wrong group."""
    what = actual if actual != "none" else "a plain CPU"
    return [(name, f"only applies to {vendor} accelerators; {accelerator} is {what}")
            for name in sorted(config.model_fields_set) if name.startswith(prefix)]


def _mirror_url(field: str, url: str, problems: list) -> str | None:
    """A repository base URL (upstream or an operator's mirror), checked before it reaches a host."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")) or not urlparse(url).netloc:
        problems.append((field, f"{url!r} is not an http(s) URL with a host"))
        return None
    if _credentials_in_url(url):
        problems.append((field, "credentials in a URL end up in package sources and logs; give the "
                                "mirror without them"))
        return None
    return url


def _plan_nvidia(config: HostConfig, catalog: Catalog, problems: list) -> NvidiaPlan | None:
    accelerator = catalog.accelerators[config.accelerator]
    if accelerator.vendor != "nvidia":
        problems += _settings_of_other_vendors(config, "nvidia_", "NVIDIA", config.accelerator, accelerator.vendor)
        return None
    platform = catalog.nvidia
    line = config.nvidia_cuda or accelerator.cuda_default
    if line not in platform.cuda_lines:
        problems.append(("nvidia_cuda", f"{line!r} is not a CUDA line glmstack installs; allowed: "
                                        f"{', '.join(sorted(platform.cuda_lines))}"))
        return None
    cuda = platform.cuda_lines[line]
    eligible = sorted((b for b in platform.driver_branches if int(b) >= cuda.minimum_driver_branch), key=int)
    branch = config.nvidia_driver_branch or (config.nvidia_driver_version or "").split(".")[0] or (
        eligible[-1] if eligible else None)
    if branch is None or int(branch) < cuda.minimum_driver_branch:
        problems.append(("nvidia_driver_branch", f"CUDA {line} needs driver branch {cuda.minimum_driver_branch} "
                                                 f"or newer; got {branch}"))
        return None
    pinned = platform.driver_branches.get(branch)
    version = config.nvidia_driver_version or (pinned.version if pinned else None)
    if pinned is None:
        problems.append(("nvidia_driver_branch", f"branch {branch} has no package list in the catalog; "
                                                 f"allowed: {', '.join(sorted(platform.driver_branches))}"))
        return None
    if not version.startswith(f"{branch}."):
        problems.append(("nvidia_driver_version", f"{version} is not on driver branch {branch}"))
        return None
    engine = catalog.release_for_host(config)
    wheels = engine.python_packages.get("nvidia", {})
    if wheels and line not in wheels:
        problems.append(("nvidia_cuda", f"{config.engine} {engine.version} is built for CUDA "
                                        f"{', '.join(sorted(wheels))} only; got {line}"))
        return None
    repo_url = _mirror_url("nvidia_repo_url", config.nvidia_repo_url or platform.repository.base_url, problems)
    if repo_url is None:
        return None
    cuda_major = line.split(".")[0]
    return NvidiaPlan(
        repo_url=repo_url,
        keyring_deb=platform.repository.keyring_deb,
        keyring_file=platform.repository.keyring_file,
        key_fingerprint=platform.repository.key_fingerprint,
        distributions=tuple(sorted(platform.repository.distributions.items())),
        architectures=tuple(sorted(platform.repository.architectures.items())),
        cuda_line=line,
        toolkit_package=cuda.toolkit_package,
        cuda_home=cuda.home,
        driver_branch=branch,
        driver_version=version,
        driver_packages=tuple(pinned.packages),
        fabricmanager_packages=tuple(pinned.fabricmanager_packages),
        nvlink5=accelerator.nvidia_arch == "blackwell",
        nvlink5_packages=tuple(pinned.nvlink5_packages),
        nvlink5_modules=tuple(platform.nvlink5_modules),
        version_globs=tuple(platform.driver_version_globs),
        build_packages=tuple(platform.build_packages),
        nvswitch_pci_class=platform.nvswitch_pci_class,
        allow_reboot=config.nvidia_allow_reboot,
        reboot_timeout=config.nvidia_reboot_timeout,
        dcgm_package=platform.dcgm_package.format(cuda_major=cuda_major) if config.nvidia_dcgm else None,
        rpm_gpg_key=platform.repository.rpm_gpg_key,
        rpm_key_sha256=platform.repository.rpm_key_sha256,
        rpm_key_file=platform.repository.rpm_key_file,
        rpm_module_stream=pinned.rpm.module_stream,
        rpm_driver_packages=tuple(pinned.rpm.packages),
        rpm_fabricmanager_packages=tuple(pinned.rpm.fabricmanager_packages),
        rpm_nvlink5_packages=tuple(pinned.rpm.nvlink5_packages),
        rpm_version_globs=tuple(platform.rpm_version_globs),
        rpm_versionlock_package=platform.rpm_versionlock_package,
        rpm_required_repositories=tuple(platform.rpm_required_repositories.items()),
    )


def _plan_amd(config: HostConfig, catalog: Catalog, problems: list) -> AmdPlan | None:
    accelerator = catalog.accelerators[config.accelerator]
    if accelerator.vendor != "amd":
        problems += _settings_of_other_vendors(config, "amd_", "AMD", config.accelerator, accelerator.vendor)
        return None
    platform = catalog.amd
    rocm = config.amd_rocm or platform.default_rocm
    if rocm not in platform.rocm_releases:
        problems.append(("amd_rocm", f"{rocm!r} is not a ROCm release glmstack installs; allowed: "
                                     f"{', '.join(sorted(platform.rocm_releases))}"))
        return None
    wheels = catalog.release_for_host(config).python_packages.get("amd", {})
    if wheels and rocm not in wheels:
        problems.append(("amd_rocm", f"{config.engine} has wheels for ROCm {', '.join(sorted(wheels))} only; "
                                     f"got {rocm}"))
        return None
    repo_url = _mirror_url("amd_repo_url", config.amd_repo_url or platform.repository.base_url, problems)
    if repo_url is None:
        return None
    release = platform.rocm_releases[rocm]
    return AmdPlan(
        repo_url=repo_url,
        upstream_url=platform.repository.base_url.rstrip("/"),
        installer_deb=platform.repository.installer_deb,
        installer_rpm=platform.repository.installer_rpm,
        key_url=f"{repo_url.rstrip('/')}/{platform.repository.key_path}",
        key_fingerprint=platform.repository.key_fingerprint,
        rpm_key_file=platform.repository.rpm_key_file,
        codenames=tuple(sorted(platform.repository.codenames.items())),
        rocm=rocm,
        package_version=release.package_version,
        split_driver=release.split_driver,
        driver_packages=tuple(platform.driver_packages),
        kernel_packages=tuple(platform.kernel_packages),
        rpm_kernel_packages=tuple(platform.rpm_kernel_packages),
        rpm_versionlock_package=platform.rpm_versionlock_package,
        rocm_packages=tuple(platform.rocm_packages),
        held_packages=tuple(platform.held_packages),
        kernel_parameters=tuple(platform.kernel_parameters),
        library_paths=tuple(platform.library_paths),
        gfx_arch=accelerator.gfx_arch or "",
        allow_reboot=config.amd_allow_reboot,
        reboot_timeout=config.amd_reboot_timeout,
    )


def _ascend_wheels(config: HostConfig, catalog: Catalog, arch: str) -> PythonWheels:
    """vllm-ascend and what it runs on, as one row of its versioning table pins them, installed
    the way its own guide does (catalog ascend.python_install)."""
    version = catalog.release_for_host(config).version
    pins = catalog.ascend.vllm_ascend[version]
    install = catalog.ascend.python_install
    requirements = [f"vllm=={pins.vllm}", f"vllm-ascend=={version}", f"torch=={pins.torch}",
                    f"torch-npu=={pins.torch_npu}",
                    *([f"triton-ascend=={pins.triton_ascend}"] if pins.triton_ascend else [])]
    return PythonWheels(
        requirements=requirements,
        torch_backend=install.torch_backend.get(arch),
        extra_index_urls=list(config.ascend_pip_extra_index_urls),
        build_env=dict(install.build_env),
        source_packages=list(install.source_packages),
        build_requirements=list(install.build_requirements),
        gpu_imports=["torch_npu", "vllm_ascend"],
        index_only={name: url for name, url in install.index_only.items()
                    if any(_requirement_name(r) == name for r in requirements)},
    )


def _plan_roce(config: HostConfig, catalog: Catalog, nodes: int, problems: list) -> tuple[tuple[str, ...], str | None]:
    """The NPUs' RoCE addresses and netmask, each checked on its own and against the host's others;
    ((), None) where none are given (or they cannot work: the problem is added)."""
    accelerator = catalog.accelerators[config.accelerator]
    addresses, netmask, npus = config.ascend_roce_addresses, config.ascend_roce_netmask, accelerator.devices_per_node
    field, example = "ascend_roce_addresses", "198.51.100.11"
    if addresses is None:
        if netmask is not None:
            problems.append(("ascend_roce_netmask", "given without ascend_roce_addresses; give both, or neither"))
        elif nodes > 1 and accelerator.hccl_over_roce:
            problems.append((field, f"a multi-node deployment on {config.accelerator} runs HCCL between nodes over "
                                    f"each NPU's own RoCE port: give this node's {npus} NPUs' IPv4 addresses, NPU 0 "
                                    "first, and ascend_roce_netmask"))
        return (), None
    if len(addresses) != npus:
        problems.append((field, f"{len(addresses)} address{'es' if len(addresses) != 1 else ''} given; "
                                f"{config.accelerator} has {npus} NPUs: give one IPv4 address for each, NPU 0 first"))
        return (), None
    bad = [f"{address!r} (NPU {npu})" for npu, address in enumerate(addresses) if not _is_ip_address(address, 4)]
    if bad:
        problems.append((field, f"not an IPv4 address: {', '.join(bad)}; give dotted IPv4 addresses such as {example}"))
        return (), None
    if netmask is None:
        problems.append(("ascend_roce_netmask", "required with ascend_roce_addresses: the dotted netmask of "
                                                "their subnet, such as 255.255.255.0"))
        return (), None
    if not _is_netmask(netmask):
        problems.append(("ascend_roce_netmask", f"{netmask!r} is not a netmask; allowed: a dotted IPv4 netmask "
                                                "from 128.0.0.0 (/1) to 255.255.255.252 (/30), such as 255.255.255.0"))
        return (), None
    ips = [ipaddress.IPv4Address(address) for address in addresses]
    reserved = [ipaddress.IPv4Network(subnet) for subnet in catalog.ascend.roce.reserved_subnets]

    def problem(ip: ipaddress.IPv4Address) -> str | None:
        subnet = ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False)
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return "not a unicast address a port can take (loopback, link-local, multicast or reserved)"
        if ip in (subnet.network_address, subnet.broadcast_address):
            return f"the network or broadcast address of {subnet}"
        inside = next((str(each) for each in reserved if ip in each), None)
        return f"in {inside}, which the NPU boards keep for their own vNIC; use another subnet" if inside else None

    for npu, ip in enumerate(ips):
        if (what := problem(ip)) is not None:
            problems.append((field, f"{ip} (NPU {npu}) is {what}"))
            return (), None
    first_npu: dict[ipaddress.IPv4Address, int] = {}
    for npu, ip in enumerate(ips):
        if ip in first_npu:
            problems.append((field, f"{ip} is given for NPU {first_npu[ip]} and NPU {npu}; each NPU needs an "
                                    "address of its own"))
            return (), None
        first_npu[ip] = npu
    subnets = sorted({str(ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False)) for ip in ips})
    if len(subnets) > 1:
        problems.append((field, f"the addresses span {', '.join(subnets)}; a node's NPU ports share one subnet: "
                                f"give all {npus} addresses in one {netmask} subnet"))
        return (), None
    return tuple(str(ip) for ip in ips), netmask


def _is_netmask(netmask: str) -> bool:
    """A dotted netmask (not a prefix length, not a host mask) of /1 to /30."""
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", netmask):
        return False
    try:
        network = ipaddress.IPv4Network(f"0.0.0.0/{netmask}")
    except ValueError:
        return False
    return str(network.netmask) == netmask and 1 <= network.prefixlen <= 30


def _roce_conflicts(plans: list[DeployPlan]) -> list[str]:
    """Across the nodes of each deployment (a lone host on its own): no RoCE address twice, none a
    node's own address, and one subnet, as glmstack sets no RoCE gateway. One line per host and kind."""
    errors: list[str] = []
    groups: dict[str, list[DeployPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.deployment or f"host {plan.host}", []).append(plan)
    for members in groups.values():
        members = sorted(members, key=lambda plan: plan.rank)
        nodes = {_normal_address(plan.node_address): plan.host for plan in members}
        taken: dict[str, tuple[str, int]] = {}
        head = next((plan for plan in members if plan.ascend and plan.ascend.roce_addresses), None)
        for plan in members:
            if plan.ascend is None or not plan.ascend.roce_addresses:
                continue
            problems = []
            management = [(npu, address) for npu, address in enumerate(plan.ascend.roce_addresses) if address in nodes]
            if management:
                npu, address = management[0]
                whose = "this host's" if nodes[address] == plan.host else f"{nodes[address]}'s"
                problems.append(f"{address} (NPU {npu}) is {whose} own address (address); the NPUs' RoCE ports "
                                "need addresses of their own")
            again = [(npu, address) for npu, address in enumerate(plan.ascend.roce_addresses) if address in taken]
            if again:
                npu, address = again[0]
                other, other_npu = taken[address]
                problems.append(f"{address} (NPU {npu}) is already NPU {other_npu}'s on {other}; every NPU of "
                                f"deployment {plan.deployment!r} needs an address of its own")
            for npu, address in enumerate(plan.ascend.roce_addresses):
                taken.setdefault(address, (plan.host, npu))
            if head is not None and plan is not head and plan.ascend.roce_subnet != head.ascend.roce_subnet:
                problems.append(f"this node's RoCE subnet is {plan.ascend.roce_subnet}; {head.host} (rank "
                                f"{head.rank}) has {head.ascend.roce_subnet}: glmstack sets no RoCE gateway, so "
                                "a deployment's NPUs share one subnet")
            errors += [str(HostDataError(plan.host, [("ascend_roce_addresses", problem)])) for problem in problems]
    return errors


def _normal_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def _plan_ascend(config: HostConfig, catalog: Catalog, problems: list, nodes: int = 1) -> AscendPlan | None:
    accelerator = catalog.accelerators[config.accelerator]
    if accelerator.vendor != "huawei":
        problems += _settings_of_other_vendors(config, "ascend_", "Huawei Ascend", config.accelerator,
                                               accelerator.vendor)
        return None
    for url in config.ascend_pip_extra_index_urls:  # they reach the install's command line
        if _mirror_url("ascend_pip_extra_index_urls", url, problems) is None:
            return None
    roce_addresses, roce_netmask = _plan_roce(config, catalog, nodes, problems)
    platform = catalog.ascend
    cann = platform.vllm_ascend[catalog.release_for_host(config).version].cann
    source, manifest_path, packages, arch = config.ascend_packages, config.ascend_manifest, (), None
    local = bool(source) and source.startswith("/")
    if source and not local and _credentials_in_url(source):
        problems.append(("ascend_packages", "credentials in a URL end up in command lines and logs; give the "
                                            "mirror without them"))
        return None
    if local and not Path(source).is_dir():
        problems.append(("ascend_packages", f"{source} is not a directory on this machine"))
        return None
    if source and manifest_path is None:
        if not local:
            problems.append(("ascend_manifest", "an http(s) package set needs its manifest on this machine"))
            return None
        manifest_path = Path(source) / "manifest.yaml"
    if source:
        try:
            manifest = load_manifest(manifest_path)
        except ValueError as error:
            problems.append(("ascend_manifest", str(error)))
            return None
        set_problems, arch = check_package_set(manifest, catalog, config.accelerator, cann,
                                               Path(source) if local else None)
        if set_problems:
            problems += set_problems
            return None
        packages = tuple(_ascend_package(platform.components[p.component], p, arch,
                                         cann=p.component in platform.cann_components)
                         for name in ASCEND_COMPONENTS for p in manifest.packages if p.component == name)
    return AscendPlan(
        source=source.rstrip("/") if source else None, local=local, packages=packages, arch=arch, cann=cann,
        user=platform.user, group=platform.group, home=platform.home,
        set_env=tuple(tuple(platform.components[name].set_env) for name in platform.cann_components
                      if platform.components[name].set_env),
        environment_variables=tuple(platform.environment_variables), state_dir=config.base_state_dir,
        allow_reboot=config.ascend_allow_reboot, reboot_timeout=config.ascend_reboot_timeout,
        npus=accelerator.devices_per_node, roce_addresses=roce_addresses, roce_netmask=roce_netmask,
        hccn_tool=platform.roce.hccn_tool)


def _ascend_package(component, package, arch: str, cann: bool) -> AscendPackagePlan:
    return AscendPackagePlan(
        component=package.component, file=package.file, version=package.version, sha256=package.sha256,
        fresh=tuple(component.fresh), upgrade=tuple(component.upgrade),
        version_files=tuple(path.format(arch=arch) for path in component.version_files),
        version_key=component.version_key, needs_reboot=component.needs_reboot, cann=cann)


def _plan_engine_env(config: HostConfig, catalog: Catalog, nvidia: NvidiaPlan | None,
                     amd: AmdPlan | None = None, ascend: AscendPlan | None = None,
                     extra_requirements: list[str] | tuple[str, ...] = (),
                     arch: str | None = None) -> EngineEnvPlan | None:
    """The engine's Python environment, when the catalog has wheels for this platform: the engine's
    own requirements, then what the model needs beside them (catalog models' python_requirements)."""
    engine, release = catalog.engines[config.engine], catalog.release_for_host(config)
    accelerator = catalog.accelerators[config.accelerator]
    # The Ascend package set names its architecture; otherwise the accelerator's first.
    arch = arch or (ascend.arch if ascend and ascend.arch else None) or accelerator.cpu_arch[0]
    line = nvidia.cuda_line if nvidia else amd.rocm if amd else None
    wheels = release.python_packages.get(accelerator.vendor, {}).get(line) if line else None
    if ascend is not None:
        wheels = _ascend_wheels(config, catalog, arch)
    if wheels is None or release.version is None:
        return None
    values = {"version": release.version, "arch": arch, "gfx": accelerator.gfx_arch or ""}
    model_requirements = catalog.models[config.model].python_requirements.get(config.engine, [])
    return EngineEnvPlan(
        engine=config.engine,
        version=release.version,
        prefix=config.base_prefix,
        requirements=tuple(_with_engine_requirement(config, _fill(wheels.requirements, values)))
        + tuple(model_requirements) + tuple(extra_requirements),
        torch_backend=wheels.torch_backend,
        system_packages=tuple([*engine.system_packages, *wheels.system_packages,
                               *(["git"] if "git+" in (config.engine_requirement or "") else [])]),
        extra_index_urls=tuple(_fill(wheels.extra_index_urls, values)),
        python=wheels.python,
        build_env=tuple((k, _fill([v], values)[0]) for k, v in sorted(wheels.build_env.items())),
        version_check=tuple(engine.version_check),
        version_check_needs_gpu=engine.version_check_needs_gpu,
        imports=tuple(engine.imports),
        gpu_imports=tuple(wheels.gpu_imports),
        proxy_env=tuple((name, value) for name, value in (
            ("http_proxy", config.base_http_proxy), ("https_proxy", config.base_https_proxy),
            ("no_proxy", config.base_no_proxy)) if value),
        build=config.engine_requirement,
        # CANN's libraries must be found for the imports to load (the unit gets them from its
        # captured environment).
        source_files=ascend.set_env if ascend else (),
        arch=arch,
        # The host's own build (engine_requirement) replaces a package built from source here.
        source_packages=tuple(name for name in wheels.source_packages if not config.engine_requirement
                              or _requirement_name(config.engine_requirement) != name),
        build_requirements=tuple(wheels.build_requirements),
        index_only=tuple(sorted(wheels.index_only.items())),
    )


@dataclass(frozen=True)
class EnvTarget:
    """A platform an engine environment is made for: the Python, CPU and the oldest glibc it meets."""

    python: str
    arch: str
    glibc: str

    @property
    def platform(self) -> str:
        """uv's --python-platform name: the wheels' manylinux tag."""
        return f"{self.arch}-manylinux_{self.glibc.replace('.', '_')}"


def environment_targets(env: EngineEnvPlan, catalog: Catalog | None = None) -> list[EnvTarget]:
    """Every (Python, platform) the environment is made for on the supported distributions: its own
    Python (uv's) anywhere, or each distribution's python3, with the oldest glibc having it."""
    distributions = (catalog or load_catalog()).packages.distributions.values()
    oldest: dict[str, str] = {}
    for runtime in distributions:
        python = env.python or runtime.python
        if python not in oldest or int(runtime.glibc.split(".")[1]) < int(oldest[python].split(".")[1]):
            oldest[python] = runtime.glibc
    return [EnvTarget(python, env.arch, glibc) for python, glibc in sorted(oldest.items())]


def engine_environment(plan: DeployPlan, arch: str | None = None,
                       catalog: Catalog | None = None) -> EngineEnvPlan | None:
    """The plan's engine environment as made on a host of CPU architecture `arch` (None: the plan's)."""
    catalog = catalog or load_catalog()
    ray = catalog.engines[plan.config.engine].ray if plan.ray else None
    extra = [_fill([ray.requirement], {"version": ray.version})[0]] if ray else []
    return _plan_engine_env(plan.config, catalog, plan.nvidia, plan.amd, plan.ascend, extra_requirements=extra,
                            arch=arch)


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[=<>!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _with_engine_requirement(config: HostConfig, requirements: list[str]) -> list[str]:
    """The catalog's requirements with the engine's own package replaced by the host's build."""
    if config.engine_requirement is None:
        return requirements
    name = _requirement_name(config.engine_requirement)
    return [config.engine_requirement if _requirement_name(r) == name else r for r in requirements]


def _engine_requirement_problems(config: HostConfig, catalog: Catalog,
                                 engine_env: EngineEnvPlan | None) -> list[tuple[str, str]]:
    graft = catalog.models[config.model].graft
    if config.engine_requirement is None:
        if graft is not None:
            return [("engine_requirement", f"{config.model} needs {graft.engine_patch}: name your build, pinned, "
                                           "as 'vllm @ https://host/vllm-....whl#sha256=<64 hex>' or "
                                           "'vllm @ git+https://host/repo.git@<commit>'")]
        return []
    if _credentials_in_url(config.engine_requirement.split(" @ ", 1)[1].removeprefix("git+")):
        return [("engine_requirement", "credentials in a URL end up in command lines and logs; give the URL "
                                       "without them")]
    if engine_env is None:
        return [("engine_requirement", f"{config.engine} on {config.accelerator} is not installed from Python "
                                       "packages here; there is nothing to replace")]
    if config.engine_requirement not in engine_env.requirements:  # nothing of that name was replaced
        return [("engine_requirement", f"{_requirement_name(config.engine_requirement)!r} is not one of the "
                                       "engine's packages; allowed: "
                                       f"{', '.join(_requirement_name(r) for r in engine_env.requirements)}")]
    return []


def _fill(templates: list[str], values: dict[str, Any]) -> list[str]:
    words = []
    for template in templates:
        for name, value in values.items():
            template = template.replace("{" + name + "}", str(value))
        words.append(template)
    return words


def effective_tunables(config: HostConfig, recipe: Recipe) -> dict[str, Any]:
    """The recipe's tunables with the host's overrides on top; None and 0 draft tokens drop out."""
    tunables = dict(recipe.tunables)
    for name in HOST_TUNABLES:
        if getattr(config, name) is not None:
            tunables[name] = getattr(config, name)
    if tunables.get("num_speculative_tokens") == 0:
        del tunables["num_speculative_tokens"]
    return tunables


def _host_additional_config(config: HostConfig, catalog: Catalog) -> tuple[dict[str, Any], list[str]]:
    """A host's own `--additional-config JSON` in extra_flags (merged into the recipe's object, since
    the engine keeps only the last one given), and its other extra flags."""
    option = catalog.engines[config.engine].additional_config[:1]
    flags, merged = list(config.extra_flags), {}
    while option and option[0] in flags:
        at = flags.index(option[0])
        try:
            value = json.loads(flags[at + 1]) if at + 1 < len(flags) else None
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise ValueError(f"{option[0]} takes one JSON object")
        merged.update(value)
        del flags[at:at + 2]
    return merged, flags


def render_serve_command(config: HostConfig, catalog: Catalog, recipe: Recipe, binary: str, model_path: str,
                         rank: int = 0, nodes: int = 1, head: str | None = None,
                         workers: list[str] | tuple[str, ...] = (), max_model_len: str | None = None) -> list[str]:
    """The engine's command line: catalog argument templates filled from the recipe and host data;
    max_model_len: the plan's cap, when neither sets one and the native context does not fit."""
    engine = catalog.engines[config.engine]
    layout = recipe.parallel
    values: dict[str, Any] = {
        "model_path": model_path,
        "served_model_name": config.served_model_name or config.model,
        "host": config.service_bind_host,
        "port": config.port or engine.default_port,
    }
    if layout.tensor_parallel_size:
        values["tensor_parallel_size"] = layout.tensor_parallel_size
    if layout.pipeline_parallel_size > 1:
        values["pipeline_parallel_size"] = layout.pipeline_parallel_size
    values.update(effective_tunables(config, recipe))
    if max_model_len is not None and "max_model_len" not in values:
        values["max_model_len"] = max_model_len
    argv = [binary, *engine.subcommand]
    for name, value in values.items():
        argv += _fill(engine.flags[name], {"value": value})
    argv += recipe.args
    host_config, extra_flags = _host_additional_config(config, catalog)
    if recipe.additional_config or host_config:
        merged = json.dumps({**recipe.additional_config, **host_config}, separators=(",", ":"))
        argv += _fill(engine.additional_config, {"value": merged})
    if nodes > 1 and recipe.cluster == "ray":
        # The engine on the head drives the whole Ray cluster; the other nodes run Ray alone.
        argv += engine.ray.engine_args
    elif nodes > 1:
        dp_local = layout.data_parallel_size // nodes
        placeholders = {"nodes": nodes, "rank": rank, "head": head, "head_host": url_host(head or ""),
                        "dp": layout.data_parallel_size,
                        "dp_local": dp_local, "dp_start": rank * dp_local}
        if engine.rpc_worker:
            placeholders["rpc_workers"] = ",".join(host_port(worker, engine.rpc_worker.port) for worker in workers)
        argv += _fill(engine.multinode_head if rank == 0 else engine.multinode_worker, placeholders)
    return argv + extra_flags


def engine_limitations(config: HostConfig, catalog: Catalog, recipe: Recipe,
                       argv: list[str] | tuple[str, ...]) -> tuple[EngineLimitation, ...]:
    """The engine release's known limitations this command runs into; none for a host's own build."""
    if config.engine_requirement is not None:
        return ()
    tunables = effective_tunables(config, recipe)
    family = catalog.models[config.model].family
    return tuple(limit for limit in catalog.release_for(recipe).limitations
                 if (not limit.families or family in limit.families)
                 and all(arg in argv for arg in limit.when_args)
                 and all(tunables.get(name) for name in limit.when_tunables))


def _compatibility_problems(config: HostConfig, catalog: Catalog, recipe: Recipe) -> list[tuple[str, str]]:
    """What the seeds and reference facts say cannot work, beyond the schema."""
    problems = []
    accelerator = catalog.accelerators[config.accelerator]
    engine = catalog.engines[config.engine]
    model = catalog.models[config.model]
    for name in HOST_TUNABLES:
        if getattr(config, name) is not None and name not in engine.flags:
            allowed = [t for t in HOST_TUNABLES if t in engine.flags]
            problems.append((name, f"engine {config.engine} takes no {name}; it takes: {', '.join(allowed)}"))
    tunables = effective_tunables(config, recipe)
    if tunables.get("num_speculative_tokens") and not model.mtp:
        problems.append(("num_speculative_tokens", f"{config.model} cannot use MTP: {model.mtp_note}"))
    kv_dtype = tunables.get("kv_cache_dtype")
    if kv_dtype and accelerator.kv_cache_dtypes_accepted and kv_dtype not in accelerator.kv_cache_dtypes_accepted:
        problems.append(("kv_cache_dtype", f"{kv_dtype!r} is not an FP8 KV-cache name on {config.accelerator}; "
                                           f"allowed: {', '.join(accelerator.kv_cache_dtypes_accepted)}"))
    for name in sorted(config.extra_env.keys() & engine.config_env_fallbacks.keys()):
        option, key = engine.additional_config[0], engine.config_env_fallbacks[name]
        problems.append(("extra_env", f"{name} is a fallback for {option} key {key}, which {config.engine} is "
                                      f"dropping; give extra_flags [{option}, '{{\"{key}\": ...}}'] instead "
                                      "(merged into the recipe's object)"))
    try:
        _host_additional_config(config, catalog)
    except ValueError as error:
        problems.append(("extra_flags", f"{error}, e.g. '{{\"enable_flashcomm1\": true}}'"))
    for vendor, markers in VENDOR_ONLY_MARKERS.items():
        if accelerator.vendor == vendor:
            continue
        for where, values in (("extra_flags", config.extra_flags), ("extra_env", list(config.extra_env))):
            text = " ".join(values)
            for marker in markers:
                if marker.lower() in text.lower():
                    problems.append((where, f"{marker!r} only applies to {vendor} accelerators, not "
                                            f"{config.accelerator}"))
    return problems


# URL settings: where a credential in them would end up, said as each one's refusal.
_IN_COMMANDS = "credentials in a URL end up in command lines and logs; give the URL without them"
_IN_SOURCES = "credentials in a URL end up in package sources and logs; give the mirror without them"
URL_SETTINGS = {
    "model_source": "credentials in a URL end up in command lines and logs; give the mirror without them (tokens "
                    "go in model_hf_token_file or model_modelscope_token_file)",
    "model_hf_endpoint": f"{_IN_COMMANDS} (the hub token goes in model_hf_token_file)",
    "model_modelscope_endpoint": f"{_IN_COMMANDS} (the token goes in model_modelscope_token_file)",
    "llamacpp_source": _IN_COMMANDS,
    "engine_requirement": _IN_COMMANDS,
    "nvidia_repo_url": _IN_SOURCES,
    "amd_repo_url": _IN_SOURCES,
    "ascend_pip_extra_index_urls": _IN_SOURCES,
    "ascend_packages": "credentials in a URL end up in command lines and logs; give the mirror without them",
    "base_http_proxy": "credentials in a proxy URL end up in apt's configuration (0644), the units' environment "
                       "and logs; give a proxy that lets the lab in by address (no setting carries proxy "
                       "credentials)",
    "base_https_proxy": "credentials in a proxy URL end up in apt's configuration (0644), the units' environment "
                        "and logs; give a proxy that lets the lab in by address (no setting carries proxy "
                        "credentials)",
}


def _where_to_put(text: str) -> str:
    carrier = carrier_of(text)
    if carrier:
        return f"put it in a 0600 file named by {carrier}"
    return f"glmstack passes no such secret to a host; the secrets it does take go in {SECRET_FILES_IN_WORDS}"


def _leaves(value: Any, where: str = "") -> list[tuple[str, str]]:
    """(where in the setting, string) for every string a setting's value holds."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in
                [(f"{where}the name {key!r} ", str(key)), *_leaves(item, f"{where}the value of {key} ")]]
    if isinstance(value, (list, tuple)):
        return [leaf for at, item in enumerate(value, start=1) for leaf in _leaves(item, f"{where}item {at} ")]
    return []


def _secret_problems(config: HostConfig) -> list[tuple[str, str]]:
    """Secrets where host data holds no secret: credentials in any URL setting, and a secret's shape in
    any other value (extra_flags: _extra_flag_problems). Never the value itself."""
    problems = []
    for name in sorted(config.model_fields_set - {"extra_flags", *SECRET_FILE_SETTINGS}):
        value = getattr(config, name)
        if name in URL_SETTINGS:
            urls = [value] if isinstance(value, str) else list(value or [])
            if any(_credentials_in_url(url.split(" @ ", 1)[-1].removeprefix("git+")) for url in urls):
                problems.append((name, URL_SETTINGS[name]))
            continue
        for where, text in _leaves(value):
            what = secret_in(text)
            if what is not None:
                problems.append((name, f"{where}holds {what}; a secret in host data reaches units, logs and plan "
                                       f"output: {_where_to_put(text)}"))
                break
    return problems


def setting_flag_owners(engine: Engine) -> dict[str, str]:
    """Option -> the host setting that renders it, from the engine's data: the catalog's flags per
    setting, the multi-node and Ray arguments (the deployment's), and owned_flags."""
    owners: dict[str, str] = {}

    def own(words: list[str], setting: str) -> None:
        for word in words:
            if word.startswith("-"):
                owners.setdefault(_base_option(word, engine), setting)

    for name, words in engine.flags.items():
        own(words, FLAG_SETTINGS.get(name, name))
    own(engine.multinode_head + engine.multinode_worker, "deployment")
    if engine.ray:
        own(engine.ray.engine_args, "deployment")
    for setting, words in engine.owned_flags.items():
        own(words, setting)
    return owners


def _flag_owners(config: HostConfig, catalog: Catalog, recipe: Recipe) -> dict[str, str]:
    """Option -> the host setting that renders it: what extra_flags may not repeat. The engine's
    (setting_flag_owners), and every option the serve command renders for this host beyond them
    (the recipe's own arguments: recipe_variant's); argparse's --no-X undoes --X."""
    engine = catalog.engines[config.engine]
    owners = setting_flag_owners(engine)
    rendered = render_serve_command(config.model_copy(update={"extra_flags": []}), catalog, recipe, "engine", "model")
    for word in rendered:
        if word.startswith("-") and word not in engine.additional_config:
            owners.setdefault(_base_option(word, engine), "recipe_variant")
    for option in list(owners):  # BooleanOptionalAction's --no-X
        if option.startswith("--") and not option.startswith("--no-"):
            owners.setdefault(f"--no-{option[2:]}", owners[option])
    return owners


# The catalog's flag names (glmstack.catalog SERVE_ARGUMENTS, TUNABLES, PARALLEL_SETTINGS) that are
# not host settings of the same name: the host setting that decides them.
FLAG_SETTINGS = {"model_path": "model_dir", "host": "service_bind_host", "tensor_parallel_size": "recipe_variant",
                 "pipeline_parallel_size": "recipe_variant", "kv_cache_dtype": "recipe_variant",
                 "cpu_offload_gb": "recipe_variant"}


def _base_option(word: str, engine: Engine) -> str:
    """The option a word names, as the engine reads it: before '=', underscores as dashes, a dotted
    JSON key (--speculative-config.method) as its option, an alias as the option it stands for."""
    name = flag_name(word)
    if name.startswith("--") and "." in name:
        name = name.split(".", 1)[0]
    return engine.flag_aliases.get(name, name)


def _extra_flag_problems(config: HostConfig, catalog: Catalog, recipe: Recipe) -> list[tuple[str, str]]:
    """extra_flags holds no secret and repeats nothing a setting renders (the engine takes the last
    one given: `--host 0.0.0.0` after service_bind_host's would serve beyond loopback). The first
    problem only: one line."""
    engine = catalog.engines[config.engine]
    owners = _flag_owners(config, catalog, recipe)
    flags = config.extra_flags
    for at, word in enumerate(flags, start=1):
        what = secret_in(word)
        if what is not None:
            return [("extra_flags", f"item {at} holds {what}; extra flags are written into the unit (0644), "
                                    f"the journal and plan output: {_where_to_put(word)}")]
        if not word.startswith("-") or len(word) < 2 or word[1].isdigit():
            continue
        name = flag_name(word)
        shown = word.split("=", 1)[0][:64]
        value = word.split("=", 1)[1] if "=" in word else (flags[at] if at < len(flags) else "")
        if name in SECRET_FLAGS or (flag_says_secret(name) and high_entropy(value)):
            carrier = SECRET_FLAGS.get(name)
            where = f"put it in a 0600 file named by {carrier}" if carrier else \
                f"glmstack passes no such secret to a host; the secrets it does take go in {SECRET_FILES_IN_WORDS}"
            return [("extra_flags", f"item {at} ({shown}) passes a secret on the command line, where the unit "
                                    f"(0644), the journal and plan output show it: {where}")]
        option = _base_option(word, engine)
        refused = next((full for full in engine.refused_flags if full == option or (
            engine.flag_abbreviations and option.startswith("--") and len(option) > 3 and full.startswith(option))),
            None)
        if refused is not None:
            return [("extra_flags", f"item {at} ({shown}) is refused: {refused} {engine.refused_flags[refused]}")]
        if option in owners:
            setting = owners[option]
            return [("extra_flags", f"item {at} ({shown}) repeats {option}, which {setting} renders, and the engine "
                                    f"takes the last one given: {OWNER_HINTS.get(setting, f'set {setting} instead')}")]
        if engine.flag_abbreviations and option.startswith("--") and len(option) > 3:
            taken = sorted(full for full in owners if full.startswith(option))
            if taken:
                setting = owners[taken[0]]
                return [("extra_flags", f"item {at} ({shown}) is a prefix the engine's parser takes for "
                                        f"{taken[0]} (an abbreviation), which {setting} renders: "
                                        f"{OWNER_HINTS.get(setting, f'set {setting} instead')}")]
    return []


# What to do instead of repeating an option a setting renders, where "set <setting>" is not it.
OWNER_HINTS = {
    "recipe_variant": "the recipe renders it (recipe_variant chooses another recipe; the parallel layout is the "
                      "recipe's)",
    "deployment": "the deployment renders it (deployment and the hosts' order in it decide the nodes and ranks)",
    "model_dir": "the weights the plan fetches are what the engine loads (model_source, model_dir, model_entry)",
    "service_api_key_file": "set service_api_key_file (a 0600 file) or service_require_api_key",
}


def _recipe_for(config: HostConfig, catalog: Catalog, problems: list) -> Recipe | None:
    recipe = catalog.recipe(config.model, config.accelerator, config.engine, config.recipe_variant)
    if recipe is not None:
        return recipe
    variants = [r.variant for r in catalog.recipes_for(config.model, config.accelerator, config.engine)]
    if variants:
        problems.append(("recipe_variant", f"{config.recipe_variant!r} is not a recipe for {config.model} with "
                                           f"{config.engine} on {config.accelerator}; allowed: {', '.join(variants)}"))
    else:
        served = sorted({r.model for r in catalog.recipes if (r.accelerator, r.engine) ==
                         (config.accelerator, config.engine)})
        problems.append(("model", f"no recipe serves {config.model!r} with {config.engine} on "
                                  f"{config.accelerator}; models with one: {', '.join(served) or 'none'}"))
    return None


def _validated(host: str, data: dict[str, Any], catalog: Catalog) -> tuple[HostConfig, Recipe]:
    problems = data_problems(data, set(HostConfig.model_fields))
    if problems:
        # The shape first: what pydantic would say of a refused value (or a key it ignores) adds nothing.
        refused = {field for field, _ in problems}
        try:
            HostConfig.model_validate({key: value for key, value in data.items() if key not in refused})
        except ValidationError as error:
            problems += [problem for problem in _pydantic_problems(error) if problem[0] not in refused]
        raise HostDataError(host, problems)
    try:
        config = HostConfig.model_validate(data)
    except ValidationError as error:
        raise HostDataError(host, _pydantic_problems(error)) from None
    problems += _secret_problems(config)
    if config.accelerator not in catalog.accelerators:
        problems.append(_choice("accelerator", config.accelerator, list(catalog.accelerators)))
    if config.model not in catalog.models:
        problems.append(_choice("model", config.model, list(catalog.models)))
    if config.engine not in catalog.engines:
        problems.append(_choice("engine", config.engine, list(catalog.engines)))
    if problems:
        raise HostDataError(host, problems)
    accelerator = catalog.accelerators[config.accelerator]
    if config.engine not in accelerator.engines:
        raise HostDataError(host, [("engine", f"{config.engine!r} cannot run on accelerator "
                                              f"{config.accelerator!r}; allowed: {', '.join(accelerator.engines)}")])
    problems += value_problems(config, catalog)  # each value's shape (glmstack/values.py)
    recipe = _recipe_for(config, catalog, problems)
    if recipe is None:
        raise HostDataError(host, problems)
    problems += _compatibility_problems(config, catalog, recipe)
    if not problems:
        problems += _extra_flag_problems(config, catalog, recipe)
    if problems:
        raise HostDataError(host, problems)
    return config, recipe


def _alternatives(config: HostConfig, catalog: Catalog) -> list[str]:
    """Smaller checkpoints of the same family with a recipe on this accelerator."""
    model = catalog.models[config.model]
    smaller = {r.model for r in catalog.recipes if r.accelerator == config.accelerator
               and catalog.models[r.model].family == model.family and r.model != config.model
               and (catalog.models[r.model].weights_gb or 0) < (model.weights_gb or 0)}
    return [f"{name} ({catalog.models[name].weights_gb:,.0f} GB)" for name in sorted(smaller)]


def _node_count_problem(config: HostConfig, catalog: Catalog, recipe: Recipe, nodes: int,
                        deployment: str | None) -> str:
    """Why the recipe's node count is needed: the sizing on the nodes given, when it does not fit."""
    accelerator = catalog.accelerators[config.accelerator]
    tp = min(recipe.parallel.tensor_parallel_size or accelerator.devices_per_node, accelerator.devices_per_node)
    on_given_nodes = size(config.model, catalog.models[config.model], config.accelerator, accelerator,
                          Parallelism(nodes=nodes, tensor_parallel_size=tp, pipeline_parallel_size=nodes),
                          nodes, effective_tunables(config, recipe), explicit_max_model_len=False,
                          alternatives=_alternatives(config, catalog))
    where = (f"deployment {deployment!r} has {nodes} host{'s' if nodes > 1 else ''}" if deployment
             else "this host serves alone (no deployment)")
    reason = f"{on_given_nodes.problems[0]}; " if on_given_nodes.problems else ""
    return (f"{reason}the recipe for {config.model} with {config.engine} on {config.accelerator} runs on "
            f"{recipe.parallel.nodes} nodes sharing a deployment, and {where}")


def _plan_host(host: str, config: HostConfig, recipe: Recipe, catalog: Catalog, rank: int, peers: list[str],
               deployment: str | None) -> DeployPlan:
    problems: list[tuple[str, str]] = []
    nodes = len(peers)
    interface_needed = nodes > 1 and any("{interface}" in value for value in recipe.multinode_env.values())
    if interface_needed and not config.network_interface:
        problems.append(("network_interface", "a multi-node deployment needs the NIC for collective traffic"))
    model_plan = _plan_model(config, catalog, problems)
    rpc = catalog.engines[config.engine].rpc_worker if nodes > 1 else None
    ray = catalog.engines[config.engine].ray if nodes > 1 and recipe.cluster == "ray" else None
    if nodes > 1 and not all(_is_ip_address(peer) for peer in peers):
        problems.append(("address", f"the nodes of a deployment let in each other only, by IP address: give each "
                                    f"host of deployment {deployment!r} its IP address (address), or list the "
                                    "hosts by IP"))
    if rpc and any(is_ipv6(peer) for peer in peers):
        problems.append(("address", "llama.cpp's RPC client splits worker:port at the first ':' (ggml-rpc.cpp "
                                    "parse_endpoint), so it cannot reach a worker by IPv6 address; allowed: IPv4 "
                                    f"addresses for the nodes of deployment {deployment!r}"))
    problems += _port_problems(config, catalog.engines[config.engine], nodes, rpc, ray)
    llamacpp_plan = _plan_llamacpp(config, catalog, problems, rpc) if config.engine == "llama.cpp" else None
    nvidia_plan = _plan_nvidia(config, catalog, problems)
    amd_plan = _plan_amd(config, catalog, problems)
    ascend_plan = _plan_ascend(config, catalog, problems, nodes)
    # Only the head serves the API; the other nodes of a deployment lend it their devices.
    api_key_plan = _plan_api_key(config, catalog, problems) if rank == 0 else None
    if problems or model_plan is None:
        raise HostDataError(host, problems)
    ray_requirement = [_fill([ray.requirement], {"version": ray.version})[0]] if ray else []
    engine_env = _plan_engine_env(config, catalog, nvidia_plan, amd_plan, ascend_plan,
                                  extra_requirements=ray_requirement)
    problems += _engine_requirement_problems(config, catalog, engine_env)
    if problems:
        raise HostDataError(host, problems)

    engine = catalog.engines[config.engine]
    if llamacpp_plan:
        binary = posixpath.join(llamacpp_plan.install_dir, engine.binary)
    elif engine_env:
        binary = posixpath.join(engine_env.directory, engine.binary)
    else:
        binary = posixpath.join(config.base_prefix, "venvs", config.engine, engine.binary)
    head = peers[0]
    address = config.address or host
    env = dict(engine.env)
    if nvidia_plan:
        # DeepGEMM and Triton compile kernels at run time with the toolkit's nvcc and headers.
        env["CUDA_HOME"] = nvidia_plan.cuda_home
        env["PATH"] = f"{nvidia_plan.cuda_home}/bin:{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    if amd_plan:
        # AITER JIT-compiles kernels; its cache lives in the engine's home, which survives restarts.
        env["AITER_JIT_DIR"] = posixpath.join(config.base_state_dir, "home", engine.unit_name, "aiter-jit")
        env["PATH"] = f"/opt/rocm/bin:{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    if ascend_plan:
        # CANN's own directories come first from its captured environment (the ascend role).
        env["PATH"] = f"{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    env.update(recipe.env)
    if nodes > 1:
        env.update({k: _fill([v], {"address": address, "interface": config.network_interface})[0]
                    for k, v in recipe.multinode_env.items()})
    bare_env = dict(env)  # what glmstack renders, before extra_env
    env.update(config.extra_env)
    tunables = effective_tunables(config, recipe)
    sizing = size(config.model, catalog.models[config.model], config.accelerator,
                  catalog.accelerators[config.accelerator], recipe.parallel, nodes, tunables,
                  explicit_max_model_len="max_model_len" in tunables, alternatives=_alternatives(config, catalog),
                  cap_option=engine.flags.get("max_model_len", [None])[0], auto_value=engine.max_model_len_auto,
                  caps_itself=engine.caps_context_itself)
    serve_argv = render_serve_command(config, catalog, recipe, binary, model_plan.entry_path, rank=rank,
                                      nodes=nodes, head=head, workers=peers[1:],
                                      max_model_len=sizing.max_model_len_rendered)
    limitations = engine_limitations(config, catalog, recipe, serve_argv)
    unit_name, port, health_path, rpc_head = (engine.unit_name, config.port or engine.default_port,
                                              engine.health_path, None)
    cluster_ports, cluster_peers = (tuple(engine.multinode_ports), tuple(peers)) if nodes > 1 else ((), ())
    if rpc and rank > 0:
        # This node lends its CPU and memory to the head: the RPC server instead of the engine.
        unit_name, port, health_path, rpc_head = rpc.unit_name, rpc.port, None, head
        serve_argv = [binary.removesuffix(engine.binary) + rpc.binary,
                      *_fill(rpc.args, {"address": address, "port": rpc.port})]
        cluster_ports, cluster_peers = (str(rpc.port),), (head,)
    elif rpc:
        cluster_ports, cluster_peers = (), ()  # the head connects out; its API port is the engine's
    ray_plan = _plan_ray(config, ray, address, head, peers) if ray else None
    writable_paths: tuple[str, ...] = ()
    if ray_plan:
        # The engine joins the cluster as a driver; Ray, not the engine, listens for the nodes.
        env["RAY_ADDRESS"] = bare_env["RAY_ADDRESS"] = ray_plan.gcs
        cluster_ports, writable_paths = (), (ray_plan.temp_dir,)
    plan = DeployPlan(
        host=host,
        config=config,
        model=model_plan,
        engine_name=config.engine,
        engine_installable=engine.installable or engine_env is not None,
        unit_name=unit_name,
        binary=binary,
        port=port,
        served_model_name=config.served_model_name or config.model,
        health_path=health_path,
        seed=recipe.seed,
        recipe_variant=recipe.variant,
        recipe_note=recipe.note,
        serve_argv=tuple(serve_argv),
        sizing=sizing,
        serve_env=env,
        device_allow=tuple(catalog.accelerators[config.accelerator].device_allow),
        supplementary_groups=tuple(catalog.accelerators[config.accelerator].supplementary_groups),
        unit_hardening=tuple(engine.unit_hardening.items()),
        address_families=tuple(engine.address_families),
        accelerator_cpu_arch=tuple(catalog.accelerators[config.accelerator].cpu_arch),
        accelerator_vendor=catalog.accelerators[config.accelerator].vendor,
        accelerator_pci_vendor=catalog.accelerators[config.accelerator].pci_vendor,
        accelerator_pci_classes=tuple(catalog.accelerators[config.accelerator].pci_classes),
        devices_per_node=catalog.accelerators[config.accelerator].devices_per_node,
        deployment=deployment,
        rank=rank,
        nodes=nodes,
        head_address=head if nodes > 1 else None,
        llamacpp=llamacpp_plan,
        nvidia=nvidia_plan,
        amd=amd_plan,
        ascend=ascend_plan,
        engine_env=engine_env,
        api_key=api_key_plan,
        ready_timeout=config.service_ready_timeout or engine.ready_timeout,
        rpc_head=rpc_head,
        rpc_workers=tuple(host_port(worker, rpc.port) for worker in peers[1:]) if rpc and rank == 0 else (),
        ray=ray_plan,
        cluster_ports=cluster_ports,
        cluster_peers=cluster_peers,
        writable_paths=writable_paths,
        limitations=limitations if serve_argv[0] == binary else (),
    )
    problems += _extra_env_problems(config.extra_env, dataclasses.replace(
        plan, config=config.model_copy(update={"extra_env": {}}), serve_env=bare_env))
    if problems:
        raise HostDataError(host, problems)
    return plan


# Variables that make the engine's interpreter or loader run other code (preloaded libraries,
# start-up scripts, module paths): never taken from extra_env.
CODE_INJECTING_ENV = ("LD_PRELOAD", "LD_AUDIT", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "BASH_ENV", "ENV",
                      "PERL5OPT", "NODE_OPTIONS")


def _extra_env_problems(extra_env: dict[str, str], bare: DeployPlan) -> list[tuple[str, str]]:
    """extra_env adds variables: none glmstack sets itself in the unit's environment (from a setting
    or the catalog; `bare` is the plan without extra_env), none that injects code."""
    problems = []
    fields = {name: "the catalog" if source == "environment" else source
              for name, source in environment_fields(bare).items()}
    for name, setting in PROXY_SETTINGS.items():  # set whenever the setting is, so never here
        fields.setdefault(name, setting)
        fields.setdefault(name.upper(), setting)
    fields[FINGERPRINT_VARIABLE] = "the deployed configuration"
    if bare.ray is not None:  # the Ray unit's environment: the engine's, and Ray's own
        fields.update(dict.fromkeys(dict(bare.ray.env), "the catalog (Ray)"))
        fields.setdefault("RAY_ADDRESS", "the Ray cluster")
    taken = [name for name in extra_env if name in fields]
    if taken:
        problems.append(("extra_env", "set by glmstack: " + ", ".join(f"{name} (from {fields[name]})" for name in taken)
                         + "; allowed: variables glmstack does not set (change the setting named instead)"))
    injecting = [name for name in extra_env if name in CODE_INJECTING_ENV]
    if injecting:
        problems.append(("extra_env", f"{', '.join(injecting)} would make the engine load or run other code; "
                                      f"allowed: variables other than {', '.join(CODE_INJECTING_ENV)}"))
    return problems


def _ports(ports: list[str] | tuple[str, ...]) -> set[int]:
    """Catalog port lists ("6379", "10002-10999") as the ports they name."""
    named: set[int] = set()
    for entry in ports:
        low, _, high = str(entry).partition("-")
        named.update(range(int(low), int(high or low) + 1))
    return named


def _port_problems(config: HostConfig, engine: Engine, nodes: int, rpc: RpcWorker | None,
                   ray: RayCluster | None) -> list[tuple[str, str]]:
    """The API port and the weights share's are none of the deployment's other ports, nor each other:
    (several nodes) the cluster's, which the node filter opens to the deployment's nodes only
    (catalog engines.yaml)."""
    api, share = config.port or engine.default_port, config.model_share_port
    cluster: tuple[str, set[int]] | None = None
    if nodes > 1 and ray:
        named = [str(ray.port), str(ray.node_manager_port), *ray.ports]
        cluster = f"Ray's cluster ports ({', '.join(named)})", _ports(named)
    elif nodes > 1 and rpc:
        cluster = f"the llama.cpp RPC workers' port ({rpc.port})", {rpc.port}
    elif nodes > 1:
        cluster = (f"{config.engine}'s cluster ports ({', '.join(engine.multinode_ports)})",
                   _ports(engine.multinode_ports))
    allowed = "which this deployment uses for another purpose; allowed: a port none of them uses"
    if api == share:
        field = "port" if config.port is not None else "model_share_port"
        return [(field, f"the API port {api} is also model_share_port ({share}), {allowed}")]
    if cluster and api in cluster[1]:
        return [("port", f"the API port {api} is also one of {cluster[0]}, {allowed}")]
    if cluster and share in cluster[1]:
        return [("model_share_port", f"{share} is also one of {cluster[0]}, {allowed}")]
    return []


def _plan_ray(config: HostConfig, ray: RayCluster, address: str, head: str, peers: list[str]) -> RayPlan:
    temp_dir = posixpath.join(config.base_state_dir, "home", ray.unit_name, "tmp")
    values = {"address": address, "head": head, "head_host": url_host(head), "port": ray.port,
              "temp_dir": temp_dir, "node_manager_port": ray.node_manager_port}
    return RayPlan(
        unit_name=ray.unit_name,
        head=head,
        port=ray.port,
        nodes=tuple(peers),
        args=tuple(_fill(ray.head_args if address == head else ray.worker_args, values)),
        env=tuple((name, _fill([value], values)[0]) for name, value in ray.env.items()),
        temp_dir=temp_dir,
        version=ray.version,
        node_manager_port=ray.node_manager_port,
        ports=tuple(ray.ports),
    )


def node_units(plan: DeployPlan) -> list[DeployPlan]:
    """The units this node runs, in the order they start: Ray before the engine on a Ray head."""
    if plan.ray is None:
        return [plan]
    return [ray_unit(plan), plan] if plan.serves_api else [ray_unit(plan)]


def ray_environment(plan: DeployPlan) -> EngineEnvPlan:
    """Ray alone, in an environment of its own: forms the cluster before (or without) the engine."""
    assert plan.ray is not None and plan.engine_env is not None
    env = plan.engine_env
    return dataclasses.replace(
        env, engine="ray", version=plan.ray.version, requirements=(f"ray=={plan.ray.version}",), torch_backend=None,
        system_packages=("python3-venv",), extra_index_urls=(), python=None, build_env=(),
        version_check=("bin/ray", "--version"), version_check_needs_gpu=False, imports=("ray",), gpu_imports=(),
        build=None, source_files=())


def ray_unit(plan: DeployPlan, environment: str | None = None) -> DeployPlan:
    """The node's Ray unit, as a plan the service role runs like an engine's: `ray start --block`
    from the engine's environment (or the one given), with the engine's environment variables and
    devices (Ray starts the engine's worker processes), probed on its port, open to the deployment."""
    ray = plan.ray
    assert ray is not None
    environment = environment or posixpath.dirname(posixpath.dirname(plan.binary))  # the engine's
    head = plan.rank == 0
    env = {name: value for name, value in plan.serve_env.items() if name != "RAY_ADDRESS"}
    if "PATH" in env:  # Ray's own environment first, as the engine's is in the engine's unit
        env["PATH"] = env["PATH"].replace(posixpath.dirname(plan.binary), posixpath.join(environment, "bin"))
    return dataclasses.replace(
        plan,
        unit_name=ray.unit_name,
        serve_argv=(posixpath.join(environment, "bin", "ray"), *ray.args),
        serve_env={**env, **dict(ray.env)},
        port=ray.port if head else ray.node_manager_port,
        health_path=None,
        api_key=None,
        ready_timeout=NODE_WAIT_SECONDS,
        cluster_ports=ray.ports,
        cluster_peers=ray.nodes,
        writable_paths=(),
    )


def _weights_seed_problem(plan: DeployPlan, seed: DeployPlan | None, hosts: list[str]) -> str | None:
    chosen = plan.config.model_fetch_from
    if seed is None:
        return f"{chosen!r} is not a host of this inventory; hosts: {', '.join(hosts)}"
    if seed.config.model_fetch_from not in (None, seed.host):
        return (f"{seed.host} gets its weights from {seed.config.model_fetch_from} itself; name the host that "
                "fetches them from the source")
    if seed.model.fingerprint != plan.model.fingerprint:
        return f"{seed.host} fetches other weights (model, source, revision, files or directory differ)"
    if plan.model.kind == "path":
        return "the weights are a path on the host (model_source); there is nothing to pass on"
    return None


def _link_weights_seeds(plans: list[DeployPlan], members: dict[str, list[str]]) -> tuple[list[DeployPlan], list[str]]:
    """Which host fetches the weights from the source for which others, who receive them from it over
    the lab network: named by model_fetch_from, or by default a deployment's rank 0."""
    by_name = {plan.host: plan for plan in plans}
    errors, seed_of = [], {}
    for plan in plans:
        chosen = plan.config.model_fetch_from
        if plan.rpc_worker:
            continue  # the head holds the weights; an RPC worker is sent only tensors
        if chosen is None and plan.deployment and plan.nodes > 1 and plan.model.kind not in ("path", "graft"):
            chosen = members[plan.deployment][0]
        if chosen is None or chosen == plan.host:
            continue
        problem = _weights_seed_problem(plan, by_name.get(chosen), list(by_name))
        if problem:
            errors.append(f"host {plan.host}: field model_fetch_from: {problem}")
        else:
            seed_of[plan.host] = chosen
    peers_of: dict[str, list[str]] = {}
    for name, seed in seed_of.items():
        peers_of.setdefault(seed, []).append(name)

    def address(name: str) -> str:
        return by_name[name].config.address or name

    linked = [dataclasses.replace(plan, weights_seed=address(seed_of[plan.host]) if plan.host in seed_of else None,
                                  weights_seed_host=seed_of.get(plan.host),
                                  weights_peers=tuple((name, address(name)) for name in peers_of.get(plan.host, [])))
              for plan in plans]
    return linked, errors


def _rank_address_problems(validated: dict[str, tuple[HostConfig, Recipe]], members: dict[str, list[str]]) -> list[str]:
    """The nodes of a multi-node deployment each have an address of their own that the others can
    reach: two ranks on one address would each start a head (a second Ray head, say)."""
    errors = []
    for deployment, names in members.items():
        if len(names) < 2:
            continue
        seen: dict[str, str] = {}
        for rank, name in enumerate(names):
            address = validated[name][0].address or name
            normal = _normal_address(address)
            ip = ip_address_of(normal)
            if ip is not None and (ip.is_loopback or ip.is_unspecified or ip.is_multicast):
                errors.append(f"host {name}: field address: {address} (rank {rank}) is not an address the other "
                              f"nodes of deployment {deployment!r} can reach; allowed: this node's own IP address")
            elif normal in seen:
                errors.append(f"host {name}: field address: {address} (rank {rank}) is already {seen[normal]}'s; "
                              f"each node of deployment {deployment!r} needs an address of its own")
            seen.setdefault(normal, f"{name} (rank {rank})")
    return errors


def resolve_inventory(hosts: list[tuple[str, dict[str, Any]]], catalog: Catalog | None = None,
                      require_fit: bool = True) -> list[DeployPlan]:
    """Validate and resolve every host, deployments together; report all problems of all hosts at once."""
    catalog = catalog or load_catalog()
    errors: list[str] = []
    validated: dict[str, tuple[HostConfig, Recipe]] = {}
    # Entries that are not (host name, data dict) pairs, and hosts listed twice, are refused here.
    hosts, errors = entry_problems(hosts)
    hosts_data = dict(hosts)
    for name, data in hosts:
        try:
            validated[name] = _validated(name, data, catalog)
        except HostDataError as error:
            errors.append(str(error))
        except OSError as error:  # a file the data names (a secret, a manifest) that cannot be read
            errors.append(str(HostDataError(name, [_unreadable_file(data, error)])))

    members: dict[str, list[str]] = {}
    for name, (config, _) in validated.items():
        if config.deployment:
            members.setdefault(config.deployment, []).append(name)
    for deployment, names in members.items():
        first = validated[names[0]][0]
        for name in names[1:]:
            config = validated[name][0]
            for key in ("accelerator", "model", "engine", "recipe_variant"):
                if getattr(config, key) != getattr(first, key):
                    errors.append(f"host {name}: field {key}: deployment {deployment!r} serves one model: "
                                  f"{getattr(first, key)!r} as on {names[0]} (rank 0)")

    errors += _rank_address_problems(validated, members)
    plans = []
    if not errors:
        # Each deployment (or lone host) must have as many nodes as its recipe: said once, on rank 0.
        for names in [*members.values(), *([n] for n, (c, _) in validated.items() if not c.deployment)]:
            config, recipe = validated[names[0]]
            if recipe.parallel.nodes != len(names):
                problem = _node_count_problem(config, catalog, recipe, len(names), config.deployment)
                errors.append(str(HostDataError(names[0], [("deployment", problem)])))
    if not errors:
        for name, (config, recipe) in validated.items():
            peers = members[config.deployment] if config.deployment else [name]
            addresses = [validated[p][0].address or p for p in peers]
            try:
                plan = _plan_host(name, config, recipe, catalog, peers.index(name), addresses, config.deployment)
            except HostDataError as error:
                errors.append(str(error))
                continue
            except OSError as error:
                errors.append(str(HostDataError(name, [_unreadable_file(hosts_data[name], error)])))
                continue
            if require_fit and plan.sizing.problems:
                errors.extend(f"host {name}: does not fit: {problem}" for problem in plan.sizing.problems)
            plans.append(plan)
    if not errors:
        errors = _roce_conflicts(plans)
    if not errors:
        plans, errors = _link_weights_seeds(plans, members)
    if not errors:
        errors = _unrepresentable(plans)
    if errors:
        raise InventoryError("\n".join(errors))
    return plans


def _unrepresentable(plans: list[DeployPlan]) -> list[str]:
    """Every file and command the deploy makes from host data, made once: a value its syntax cannot
    hold (glmstack.quoting) is refused here, before any host is contacted."""
    from glmstack.hostfiles import problems  # it imports the roles, which import this module

    return [str(HostDataError(plan.host, found)) for plan in plans if (found := problems(plan))]


def resolve(host: str, data: dict[str, Any], catalog: Catalog | None = None) -> DeployPlan:
    """One host serving alone; raises HostDataError naming the host."""
    try:
        return resolve_inventory([(host, data)], catalog)[0]
    except InventoryError as error:
        raise _as_host_error(host, error) from None


def _unreadable_file(data: dict[str, Any], error: OSError) -> tuple[str, str]:
    """The setting naming a file that cannot be read, and why (the path itself is not repeated)."""
    def names(value: Any) -> bool:
        values = value if isinstance(value, list) else [value]
        return any(str(item) == str(error.filename) for item in values if isinstance(item, (str, Path)))
    field = next((key for key, value in data.items() if names(value)), "(data)")
    return field, f"the file cannot be read ({error.strerror}); allowed: a path to a readable file"


def _as_host_error(host: str, error: InventoryError) -> HostDataError:
    """The same problems, for one host, as (field, message) pairs; sizing problems under 'sizing'."""
    problems = []
    for line in str(error).splitlines():
        rest = line.split(": ", 1)[1]  # after "host <name>", which has no ": " in it
        where, _, message = rest.partition(": ")
        problems.append((where.removeprefix("field "), message) if where.startswith("field ") else
                        ("sizing", rest.removeprefix("does not fit: ")))
    return HostDataError(host if isinstance(host, str) and SAFE_LABEL.fullmatch(host) else "#1", problems)


def validate_inventory(hosts: list[tuple[str, dict[str, Any]]]) -> list[DeployPlan]:
    """Resolve every host; report the problems of all hosts together."""
    return resolve_inventory(hosts)
