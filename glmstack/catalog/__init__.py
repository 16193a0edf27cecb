"""The hardware and recipe catalog: data files in this folder, validated by typed models.

Roles read resolved values from here and never repeat them. Adding an accelerator, engine,
model or recipe means adding an entry to one of the YAML files beside this module.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

CATALOG_DIR = Path(__file__).resolve().parent

OPTION = re.compile(r"--?[A-Za-z][\w.-]*")  # an engine option as its parser spells it
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
# Values a recipe sets and a host may override; each engine maps them to its own arguments.
TUNABLES = (
    "max_model_len",
    "max_num_seqs",
    "gpu_memory_utilization",
    "num_speculative_tokens",
    "kv_cache_dtype",
    "cpu_offload_gb",
)
# Set by a recipe's layout (Parallelism), rendered through the same flag templates.
PARALLEL_SETTINGS = ("tensor_parallel_size", "pipeline_parallel_size")
# Always rendered: where the weights are, the name clients use, and the listening address.
SERVE_ARGUMENTS = ("model_path", "served_model_name", "host", "port")
# How many bytes one KV-cache element takes for each dtype name engines use.
KV_DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "q8_0": 1}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accelerator(Strict):
    vendor: Literal["none", "nvidia", "amd", "huawei"]
    devices_per_node: int = Field(ge=0)
    memory_per_device_gb: float = Field(ge=0)
    host_memory_gb: float | None = None
    cpu_arch: list[Literal["x86_64", "aarch64"]]
    engines: list[str]
    # Every name this hardware's engines accept for an FP8 KV cache.
    kv_cache_dtypes_accepted: list[str] = []
    llamacpp_backend: Literal["cpu", "cuda", "hip", "cann"] | None = None
    # Device nodes the engine unit may open (systemd DeviceAllow= entries); none means no devices.
    device_allow: list[str] = []
    supplementary_groups: list[str] = []
    pci_vendor: str | None = Field(None, pattern=r"^[0-9a-f]{4}$")
    pci_classes: list[str] = []
    # NVIDIA only: the GPU generation (Blackwell fabrics need NVLink5 tooling) and the CUDA line
    # hosts get unless they name another (nvidia_cuda).
    nvidia_arch: Literal["hopper", "blackwell"] | None = None
    # NVIDIA only: an HGX board whose GPUs share NVSwitches (the fabric manager runs there). The
    # deploy finds them on the PCI bus; a bundle carries the fabric manager's packages where true.
    nvswitch: bool = False
    device_name: str | None = None
    # AMD only: the GPU architecture AITER and the ROCm libraries are built for.
    gfx_arch: str | None = None
    cuda_default: str | None = None
    # Huawei only: across nodes, HCCL runs over each NPU's own RoCE port, whose address and netmask
    # the host data gives (ascend_roce_addresses): a multi-node deployment needs them.
    hccl_over_roce: bool = False


class EngineBackend(Strict):
    cmake_flags: list[str] = []
    build_packages: list[str] = []


class PythonWheels(Strict):
    """What `uv pip install` is given for one platform line; {version} {arch} {gfx} are filled in."""

    requirements: list[str] = Field(min_length=1)
    # uv's --torch-backend (cu129, cu130, ...); None: torch as the package index resolves it.
    torch_backend: str | None = None
    # Package indexes beside the host's own (the engine's own wheel index for a platform build).
    extra_index_urls: list[str] = []
    # The Python the environment needs, when the host's python3 may not do (uv provides it).
    python: str | None = None
    # Environment for source builds among the requirements.
    build_env: dict[str, str] = {}
    # Modules that must import once the accelerator's driver is loaded (DeepGEMM, AITER).
    gpu_imports: list[str] = []
    # OS packages this platform's install needs beyond the engine's own (git for source builds).
    system_packages: list[str] = []
    # Packages built on the host from their source distribution against the environment's own
    # packages (no build isolation), with build_requirements installed first for that build.
    source_packages: list[str] = []
    build_requirements: list[str] = []
    # Packages of the set whose files only another index than PyPI serves -> that index (the
    # host's own index, or an extra one, must serve them).
    index_only: dict[str, str] = {}


class RpcWorker(Strict):
    """What a worker node of a multi-node deployment runs instead of the engine's server."""

    binary: str  # relative to the engine's install directory
    unit_name: str
    port: int = Field(ge=1, le=65535)
    args: list[str]  # {address}: the worker's own; {port}
    cmake_flags: list[str] = []  # what the build needs for it


class RayCluster(Strict):
    """A Ray cluster under the engine (vLLM's Ray executor): a `ray start --block` unit on every
    node of the deployment, and the engine on the head only, once the cluster has every node."""

    version: str
    # Added to the engine's environment on Ray deployments: every node runs the very same Ray.
    requirement: str
    unit_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    port: int = Field(ge=1, le=65535)  # the head's GCS
    node_manager_port: int = Field(ge=1, le=65535)  # every node's raylet
    # {address}: the node's own; {head}: the head's; {head_host}: the head's as the host of host:port
    # (an IPv6 address in brackets); {port}; {node_manager_port}; {temp_dir}: sessions, sockets and logs.
    head_args: list[str]
    worker_args: list[str]
    # Appended to the engine's command on the head.
    engine_args: list[str]
    # The node's environment for Ray and every worker process it starts ({address}).
    env: dict[str, str] = {}
    # What the nodes reach each other on ("6379", "10002-10999"): only the deployment's nodes may.
    ports: list[str] = Field(min_length=1)


class EngineLimitation(Strict):
    """What a pinned engine release is known not to do, with the seed that says so: the plan names
    it on every host serving a model of `families` (empty: any) whose command has all of
    `when_args` and all of `when_tunables`, unless the host installs its own build
    (engine_requirement) instead of the release."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    seed: str = Field(pattern=r"^\d{3}$")
    message: str
    families: list[str] = []
    when_args: list[str] = []
    when_tunables: list[str] = []

    @field_validator("when_tunables")
    @classmethod
    def _known_tunables(cls, tunables: list[str]) -> list[str]:
        unknown = set(tunables) - set(TUNABLES)
        if unknown:
            raise ValueError(f"unknown tunables {sorted(unknown)}; known: {list(TUNABLES)}")
        return tunables


class MessagesEndpoint(Strict):
    """An engine release's Anthropic-compatible messages endpoint (what Claude Code talks to):
    where it is, and the request fields that ask it for a plain answer (no thinking), which each
    engine maps in its own way (`glmstack client` prints them)."""

    path: str = Field(pattern=r"^/v1/")
    plain_answer: dict[str, Any]
    # Where in the release's source the route and the fields were read.
    source: str = Field(min_length=1)


class EngineRelease(Strict):
    """One release of an engine (its key in the engine's `releases`, the version installed): what
    is installed for it and what it is known not to do. Recipes use the engine's default_release
    unless they name another (engine_release), so one model can move to a newer release alone."""

    # Python engines: vendor -> platform line (the CUDA line on NVIDIA) -> what uv installs.
    python_packages: dict[str, dict[str, PythonWheels]] = {}
    limitations: list[EngineLimitation] = []
    # Its Anthropic-compatible messages endpoint; None: the release has none.
    messages: MessagesEndpoint | None = None
    # The release's key in its engine's `releases`: the version installed ({version}).
    _version: str | None = PrivateAttr(None)

    @property
    def version(self) -> str | None:
        return self._version


class Engine(Strict):
    # The releases recipes may run (release -> what it installs), and the one they run unless they
    # name another (engine_release). None: not pinned yet, so it can be planned but not installed.
    releases: dict[str, EngineRelease] = {}
    default_release: str | None
    source: str
    unit_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    binary: str
    # Arguments between the binary and the flags (`vllm serve ...`).
    subcommand: list[str] = []
    default_port: int = Field(ge=1, le=65535)
    health_path: str = Field(pattern=r"^/")
    model_formats: list[str]
    # Argument templates per setting; "{value}" is replaced. A setting an engine cannot take is absent.
    flags: dict[str, list[str]]
    # Arguments for node `rank` of `nodes`; placeholders {nodes} {rank} {head} {dp_local} {dp_start}, and
    # {head_host}: the head's address as the host of host:port (an IPv6 address in brackets).
    multinode_head: list[str] = []
    multinode_worker: list[str] = []
    # Ports the engine's own multi-node mode listens on (only the deployment's nodes may connect).
    multinode_ports: list[str] = []
    # The most a host may set a tunable to: what the engine accepts (engines.yaml says where from).
    tunable_limits: dict[str, int] = {}
    rpc_worker: RpcWorker | None = None
    ray: RayCluster | None = None
    backends: dict[str, EngineBackend] = {}
    installable: bool = False
    # Extra [Service] hardening this engine is known to run under (verified where it runs).
    unit_hardening: dict[str, str] = {}
    # The socket families its units may open (RestrictAddressFamilies=): AF_NETLINK where the
    # engine runs collectives, which list the host's interfaces over netlink (getifaddrs).
    address_families: list[Literal["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]] = Field(min_length=1)
    # OS packages the engine needs at run time (Triton and DeepGEMM compile kernels on the host).
    system_packages: list[str] = []
    # Proof an install works: a command run in the environment, and modules that must import
    # (the platform's own, needing the driver, are listed with its wheels).
    version_check: list[str] = []
    version_check_needs_gpu: bool = False
    imports: list[str] = []
    env: dict[str, str] = {}
    # The variable the engine reads its API key from; None: it has no safe way to take one (say why).
    api_key_env: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$")
    api_key_note: str = ""
    # Seconds a deploy waits for a (re)started engine to report healthy, unless the host says.
    ready_timeout: int = Field(900, ge=10)
    # The max_model_len value with which the engine fits the context to the KV cache it measures at
    # start; None: it has none, and the plan renders its own estimate instead, unless the engine
    # starts anyway and limits requests to what its KV cache holds (caps_context_itself).
    max_model_len_auto: str | None = None
    caps_context_itself: bool = False
    # The argument carrying a recipe's `additional_config` as one JSON object ("{value}").
    additional_config: list[str] = []
    # Environment variables the engine reads only when `additional_config` lacks the key they stand
    # for, and is dropping: variable -> key. Neither a recipe nor a host may set them.
    config_env_fallbacks: dict[str, str] = {}
    # Its OpenAI server hands a request's chat_template_kwargs to the model's chat template: a
    # reasoning model (GLM-5.2 thinks first) is asked for a plain answer with enable_thinking false.
    chat_template_kwargs: bool = False
    # What extra_flags may not repeat, beyond what the command renders from a setting (`flags`,
    # multinode_*, ray.engine_args, and the recipe's own args where rendered): host setting ->
    # options of the engine that carry it another way (the API key) or change what it renders (the
    # parallel layout). Options as the engine's parser spells them.
    owned_flags: dict[str, list[str]] = {}
    # Other spellings the engine's parser takes for an option: alias -> the option.
    flag_aliases: dict[str, str] = {}
    # The parser takes any unambiguous prefix of a long option (argparse's allow_abbrev default).
    flag_abbreviations: bool = False
    # Options extra_flags may not give, whatever their value: option -> what it would do (said in
    # the refusal). Reading further options from a file (where what a setting owns could be set
    # unseen), serving or reading the host's files for clients.
    refused_flags: dict[str, str] = {}

    @model_validator(mode="after")
    def _default_is_a_release(self) -> Engine:
        if self.default_release is None and self.releases:
            raise ValueError(f"default_release must name one of its releases: {', '.join(self.releases)}")
        if self.default_release is not None and self.default_release not in self.releases:
            raise ValueError(f"default_release {self.default_release!r} is not one of its releases: "
                             f"{', '.join(self.releases) or 'none'}")
        for name, release in self.releases.items():
            release._version = name
        return self

    @property
    def default(self) -> EngineRelease:
        """The release recipes run unless they name another (an empty one while none is pinned)."""
        return self.releases[self.default_release] if self.default_release is not None else EngineRelease()

    @property
    def version(self) -> str | None:
        """The default release's version."""
        return self.default.version

    @field_validator("owned_flags")
    @classmethod
    def _owned_are_options(cls, owned: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [word for words in owned.values() for word in words if not OPTION.fullmatch(word)]
        if bad or not all(re.fullmatch(r"[a-z][a-z0-9_]*", setting) for setting in owned):
            raise ValueError(f"owned_flags maps a host setting to options; not options: {bad}")
        return owned

    @field_validator("refused_flags")
    @classmethod
    def _refused_are_options(cls, flags: dict[str, str]) -> dict[str, str]:
        bad = [word for word in flags if not OPTION.fullmatch(word)]
        if bad:
            raise ValueError(f"refused_flags maps options to why; not options: {bad}")
        return flags

    @field_validator("flag_aliases")
    @classmethod
    def _aliases_are_options(cls, aliases: dict[str, str]) -> dict[str, str]:
        bad = [word for pair in aliases.items() for word in pair if not OPTION.fullmatch(word)]
        if bad:
            raise ValueError(f"flag_aliases maps an option to an option; not options: {bad}")
        return aliases

    @field_validator("flags")
    @classmethod
    def _flags_cover_the_basics(cls, flags: dict[str, list[str]]) -> dict[str, list[str]]:
        missing = set(SERVE_ARGUMENTS) - flags.keys()
        if missing:
            raise ValueError(f"flags lacks {sorted(missing)}")
        unknown = flags.keys() - set(SERVE_ARGUMENTS) - set(TUNABLES) - set(PARALLEL_SETTINGS)
        if unknown:
            raise ValueError(f"flags has unknown settings {sorted(unknown)}")
        return flags


class Graft(Strict):
    """Weights made on the host from two checkpoints: a base, and a delta holding the layers it
    lacks with the script that merges them (run as the delta's author publishes it)."""

    base: str  # a model of the catalog: where the base comes from and how it is pinned
    delta: str  # a model of the catalog: the delta repository, with the script
    script: str = Field(pattern=r"^[\w.-]+$")  # in the delta repository
    arguments: list[str]  # {base}, {delta} and {out} replaced by the directories
    # What the merged checkpoint must hold, checked before it is marked ready.
    index_prefix: str  # tensors of the grafted layers, in model.safetensors.index.json
    config_key: str  # a key the script adds to config.json
    engine_patch: str  # what the engine needs that no release has; the host must name a build


class Model(Strict):
    family: str
    format: Literal["gguf", "safetensors"]
    # None: the weights are grafted (graft), not downloaded as one checkpoint.
    source: str | None = Field(pattern=r"^(hf|modelscope)://[\w.-]+/[\w.-]+$")
    revision: str | None
    graft: Graft | None = None
    include: list[str] = []
    entry: str | None = None
    # Sizing facts: weight bytes in GB (10^9), attention layers without MTP layers, and the KV
    # cache elements one token takes in one layer. kv_heads is None for MLA, whose compressed
    # cache every tensor-parallel rank holds whole; GQA caches are split across up to kv_heads ranks.
    weights_gb: float | None
    layers: int = Field(gt=0)
    kv_elements_per_token_per_layer: int = Field(gt=0)
    kv_heads: int | None = None
    native_context: int = Field(gt=0)
    mtp: bool
    mtp_note: str = ""
    # config.json's model_type: the transformers in the engine's environment must know it.
    model_type: str | None = Field(None, pattern=r"^[a-z0-9_]+$")
    # Engine -> Python requirements the model needs beside the engine's own (transformers that
    # knows model_type, where the engine's pins would resolve an older one).
    python_requirements: dict[str, list[str]] = {}

    @field_validator("revision")
    @classmethod
    def _revision_is_a_commit(cls, revision: str | None) -> str | None:
        if revision is not None and not COMMIT_SHA.match(revision):
            raise ValueError("revision must be a 40-character commit sha")
        return revision

    @model_validator(mode="after")
    def _downloaded_or_grafted(self) -> Model:
        if (self.source is None) == (self.graft is None):
            raise ValueError("a model has either a source or a graft")
        return self


class ThinkingModes(Strict):
    """A model family's ways of answering, as its seed asks for them through chat_template_kwargs."""

    seed: str = Field(pattern=r"^\d{3}$")
    # Mode -> its chat_template_kwargs ({} for the default), in the seed's order.
    modes: dict[str, dict[str, Any]] = Field(min_length=1)
    # The mode that answers without thinking.
    plain: str

    @model_validator(mode="after")
    def _plain_is_a_mode(self) -> ThinkingModes:
        if self.plain not in self.modes:
            raise ValueError(f"plain {self.plain!r} is not one of the modes: {', '.join(self.modes)}")
        return self


class ModelFamily(Strict):
    """What every recipe serving a model of this family shares (families.yaml)."""

    # Engine -> the arguments its server needs for the family's chat template: the tool-call and
    # reasoning parsers and the like. A recipe renders them after its own `args`, unless it gives
    # `serving_args` of its own (where its seed says otherwise).
    serving_args: dict[str, list[str]] = {}
    # How a request asks the family's chat template for each way of answering (its seed's "reasoning
    # modes"): the chat_template_kwargs of each mode; the first is what a request without any gets.
    thinking: ThinkingModes | None = None


class Parallelism(Strict):
    nodes: int = Field(1, ge=1)
    tensor_parallel_size: int | None = Field(None, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)


class Recipe(Strict):
    model_config = ConfigDict(populate_by_name=True)  # `args` in recipes.yaml, own_args in a dump
    model: str
    accelerator: str
    engine: str
    variant: str = Field("default", pattern=r"^[a-z0-9][a-z0-9-]*$")
    seed: str = Field(pattern=r"^\d{3}$")
    note: str
    parallel: Parallelism = Parallelism()
    tunables: dict[str, int | float | str] = {}
    # The recipe's own arguments (`args` in recipes.yaml), rendered before the serving arguments.
    own_args: list[str] = Field([], alias="args")
    # Serving arguments instead of the model family's for this engine (families.yaml): only where
    # the recipe's seed gives other ones. None: the family's.
    serving_args: list[str] | None = None
    env: dict[str, str] = {}
    # Extra environment on multi-node deployments, and for node-specific values:
    # {address} is the node's own address, {interface} its collective-traffic interface.
    multinode_env: dict[str, str] = {}
    # Across nodes on a Ray cluster (the engine's `ray`) instead of the engine's own multi-node mode.
    cluster: Literal["ray"] | None = None
    # Engine-specific switches rendered as one JSON object through the engine's `additional_config`.
    additional_config: dict[str, bool | int | float | str] = {}
    # A release of the engine (a key of its `releases`) instead of its default_release.
    engine_release: str | None = None
    # The port the seed serves clients on, where it is not the engine's default: the gateway's
    # (roles/gateway) unless the host data gives `port`. None: the engine's default_port.
    port: int | None = Field(None, ge=1, le=65535)
    # The family's serving arguments for the recipe's engine, set by the catalog that holds it.
    _family_args: list[str] = PrivateAttr(default_factory=list)

    @property
    def args(self) -> list[str]:
        """The arguments the recipe renders after the settings': its own, then the serving ones."""
        serving = self._family_args if self.serving_args is None else self.serving_args
        return [*self.own_args, *serving]

    @field_validator("tunables")
    @classmethod
    def _known_tunables(cls, tunables: dict[str, int | float | str]) -> dict[str, int | float | str]:
        unknown = set(tunables) - set(TUNABLES)
        if unknown:
            raise ValueError(f"unknown tunables {sorted(unknown)}; known: {list(TUNABLES)}")
        return tunables


FINGERPRINT = r"^[0-9A-F]{40}$"
SHA256 = r"^[0-9a-f]{64}$"


class NvidiaRepository(Strict):
    base_url: str = Field(pattern=r"^https?://")
    keyring_deb: str
    keyring_file: str = Field(pattern=r"^/")
    key_fingerprint: str = Field(pattern=FINGERPRINT)
    rpm_gpg_key: str
    rpm_key_sha256: str = Field(pattern=SHA256)
    rpm_key_file: str = Field(pattern=r"^/")
    distributions: dict[str, str]
    architectures: dict[str, str]


class CudaLine(Strict):
    minimum_driver_branch: int
    toolkit_package: str
    home: str = Field(pattern=r"^/")


class RpmDriverPackages(Strict):
    module_stream: str
    packages: list[str] = Field(min_length=1)
    fabricmanager_packages: list[str]
    nvlink5_packages: list[str] = []


class DriverBranch(Strict):
    version: str = Field(pattern=r"^\d{3}\.\d+(\.\d+)?$")
    packages: list[str] = Field(min_length=1)
    fabricmanager_packages: list[str]
    nvlink5_packages: list[str] = []
    rpm: RpmDriverPackages


class NvidiaPlatform(Strict):
    repository: NvidiaRepository
    cuda_lines: dict[str, CudaLine]
    driver_branches: dict[str, DriverBranch]
    driver_version_globs: list[str]
    rpm_version_globs: list[str]
    build_packages: list[str] = []
    rpm_versionlock_package: str
    rpm_required_repositories: dict[str, str]
    nvlink5_modules: list[str] = []
    dcgm_package: str
    nvswitch_pci_class: str = Field(pattern=r"^[0-9a-f]{4}$")

    @model_validator(mode="after")
    def _pins_belong_to_their_branch(self) -> NvidiaPlatform:
        for branch, pin in self.driver_branches.items():
            if not pin.version.startswith(f"{branch}."):
                raise ValueError(f"driver branch {branch}: version {pin.version} is not on that branch")
        return self


class RocmRelease(Strict):
    package_version: str
    split_driver: bool


class AmdRepository(Strict):
    base_url: str = Field(pattern=r"^https?://")
    installer_deb: str
    installer_rpm: str
    key_path: str
    key_fingerprint: str = Field(pattern=FINGERPRINT)
    rpm_key_file: str = Field(pattern=r"^/")
    codenames: dict[str, str]


class AmdPlatform(Strict):
    repository: AmdRepository
    rocm_releases: dict[str, RocmRelease]
    default_rocm: str
    driver_packages: list[str]
    kernel_packages: list[str]
    rpm_kernel_packages: list[str]
    rpm_versionlock_package: str
    rocm_packages: list[str]
    held_packages: list[str]
    kernel_parameters: list[str]
    library_paths: list[str]

    @model_validator(mode="after")
    def _default_is_listed(self) -> AmdPlatform:
        if self.default_rocm not in self.rocm_releases:
            raise ValueError(f"default_rocm {self.default_rocm} is not in rocm_releases")
        return self


class AscendChip(Strict):
    driver_prefix: str
    ops: str
    kernels: str


class AscendComponent(Strict):
    file: str
    file_before_8_5: str | None = None
    fresh: list[str]
    upgrade: list[str]
    version_files: list[str] = Field(min_length=1)
    version_key: str
    needs_reboot: bool = False
    set_env: list[str] = []


class VllmAscendSet(Strict):
    vllm: str
    cann: str
    torch: str
    torch_npu: str
    triton_ascend: str | None = None


ASCEND_COMPONENTS = ("driver", "firmware", "toolkit", "ops", "nnal")


class AscendRoce(Strict):
    """The NPUs' own RoCE ports: the tool that sets and reads their addresses, and what they may not use."""

    hccn_tool: str = Field(pattern=r"^/")
    reserved_subnets: list[str] = []

    @field_validator("reserved_subnets")
    @classmethod
    def _subnets(cls, subnets: list[str]) -> list[str]:
        for subnet in subnets:
            ipaddress.IPv4Network(subnet)  # raises on anything but an IPv4 network
        return subnets


class AscendPythonInstall(Strict):
    """How vllm-ascend's environment is installed beyond its versioning table's pins."""

    source_packages: list[str] = []
    build_requirements: list[str] = []
    build_env: dict[str, str] = {}
    # CPU architecture -> uv's --torch-backend (where torch-npu needs PyTorch's own build).
    torch_backend: dict[Literal["x86_64", "aarch64"], str] = {}
    # Packages only another index than PyPI publishes -> that index (the operator's index, or
    # ascend_pip_extra_index_urls, must serve them).
    index_only: dict[str, str] = {}


class AscendPlatform(Strict):
    user: str
    group: str
    home: str = Field(pattern=r"^/")
    chips: dict[str, AscendChip]
    components: dict[str, AscendComponent]
    cann_components: list[str]
    vllm_ascend: dict[str, VllmAscendSet]
    python_install: AscendPythonInstall = AscendPythonInstall()
    environment_variables: list[str]
    roce: AscendRoce

    @model_validator(mode="after")
    def _every_component_described(self) -> AscendPlatform:
        if set(self.components) != set(ASCEND_COMPONENTS):
            raise ValueError(f"components must be exactly {', '.join(ASCEND_COMPONENTS)}")
        if not set(self.cann_components) <= set(self.components):
            raise ValueError("cann_components names an unknown component")
        return self


class DistributionRuntime(Strict):
    """What a supported distribution gives an engine environment built with its own Python."""

    python: str = Field(pattern=r"^3\.\d+$")  # the version of packages.python's interpreter
    glibc: str = Field(pattern=r"^2\.\d+$")  # the newest manylinux_2_X its wheels may need


class OsPackages(Strict):
    rpm_names: dict[str, list[str]]
    families: dict[str, Literal["deb", "rpm"]]
    python: dict[Literal["deb", "rpm"], str]
    # os-release ID-VERSION_ID -> its Python and glibc (the targets an environment is resolved for).
    distributions: dict[str, DistributionRuntime] = {}


class HostPaths(Strict):
    system_directories: list[str]
    denied_trees: list[str]
    allowed_trees: dict[str, list[str]]
    home_parents: list[str]

    @field_validator("system_directories", "denied_trees", "home_parents")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/") or (path != "/" and path.endswith("/")) or "//" in path:
                raise ValueError(f"{path!r}: give absolute paths without a trailing slash")
        return paths


class HostRules(Strict):
    """What host data may name on a host (host.yaml): paths, accounts, interface names, URL schemes."""

    paths: HostPaths
    system_accounts: list[str] = Field(min_length=1)
    first_regular_uid: int = Field(ge=1)
    interface_name_max_bytes: int = Field(ge=1)
    url_schemes: dict[Literal["http", "proxy", "git"], list[str]]
    package_name: re.Pattern
    cmake_definitions: list[str] = Field(min_length=1)
    lowest_port: int = Field(ge=1, le=65535)


class BenchResult(Strict):
    """One row of a seed's measured serving benchmark (vllm bench serve's figures)."""

    hardware: str
    engine: str
    output_throughput: float = Field(gt=0)  # tok/s, all users
    per_user_output_throughput: float = Field(gt=0)  # tok/s
    total_throughput: float = Field(gt=0)  # tok/s, input and output
    mean_ttft_ms: float = Field(gt=0)
    p99_ttft_ms: float = Field(gt=0)
    mean_tpot_ms: float = Field(gt=0)
    p99_tpot_ms: float = Field(gt=0)
    mean_itl_ms: float = Field(gt=0)
    p99_itl_ms: float = Field(gt=0)


class BenchTool(Strict):
    """What runs the benchmark: an engine's pinned release without its dependencies, plus these."""

    engine: str
    imports: list[str] = Field(min_length=1)


class ServingBenchmark(Strict):
    """The seeds' serving benchmark (benchmarks.yaml): `vllm bench serve`'s workload, and its results."""

    seed: str
    backend: str
    endpoint: str = Field(pattern=r"^/")
    dataset: str
    input_len: int = Field(ge=1)
    output_len: int = Field(ge=1)
    num_prompts: int = Field(ge=1)
    max_concurrency: int = Field(ge=1)
    tool: BenchTool
    results: list[BenchResult] = Field(min_length=1)


class Benchmarks(Strict):
    serving: ServingBenchmark


class Catalog(Strict):
    accelerators: dict[str, Accelerator]
    engines: dict[str, Engine]
    models: dict[str, Model]
    families: dict[str, ModelFamily] = {}
    recipes: list[Recipe]
    nvidia: NvidiaPlatform
    amd: AmdPlatform
    ascend: AscendPlatform
    packages: OsPackages
    host: HostRules
    benchmarks: Benchmarks | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for name, accelerator in self.accelerators.items():
            for engine in accelerator.engines:
                if engine not in self.engines:
                    raise ValueError(f"accelerator {name}: unknown engine {engine!r}")
            if accelerator.vendor == "nvidia" and accelerator.cuda_default not in self.nvidia.cuda_lines:
                raise ValueError(f"accelerator {name}: cuda_default must be one of {sorted(self.nvidia.cuda_lines)}")
        for name, engine in self.engines.items():
            for version, release in engine.releases.items():
                for line in release.python_packages.get("nvidia", {}):
                    if line not in self.nvidia.cuda_lines:
                        raise ValueError(f"engine {name} {version}: unknown CUDA line {line!r}")
                for line in release.python_packages.get("amd", {}):
                    if line not in self.amd.rocm_releases:
                        raise ValueError(f"engine {name} {version}: unknown ROCm release {line!r}")
        for name, accelerator in self.accelerators.items():
            if accelerator.vendor != "huawei":
                continue
            if name not in self.ascend.chips:
                raise ValueError(f"accelerator {name}: no chip names in ascend.chips")
            for engine in accelerator.engines:
                for version in self.engines[engine].releases or [None]:
                    if version not in self.ascend.vllm_ascend:
                        raise ValueError(f"engine {engine}: release {version} is not in "
                                         "ascend.vllm_ascend, vllm-ascend's versioning table")
        for name, model in self.models.items():
            for engine in model.python_requirements:
                if engine not in self.engines:
                    raise ValueError(f"model {name}: python_requirements names unknown engine {engine!r}")
            if model.graft is None:
                continue
            for part in (model.graft.base, model.graft.delta):
                if part not in self.models or self.models[part].graft is not None:
                    raise ValueError(f"model {name}: graft part {part!r} is not a downloaded model of the catalog")
        known_families = {model.family for model in self.models.values()}
        for family, entry in self.families.items():
            if family not in known_families:
                raise ValueError(f"families: {family!r} is no model's family; families: {sorted(known_families)}")
            for engine in entry.serving_args:
                if engine not in self.engines:
                    raise ValueError(f"families: {family}: serving_args names unknown engine {engine!r}")
        seen = set()
        for recipe in self.recipes:
            key = (recipe.model, recipe.accelerator, recipe.engine, recipe.variant)
            where = "recipe {}/{}/{}/{}".format(*key)
            if key in seen:
                raise ValueError(f"{where}: defined twice")
            seen.add(key)
            if recipe.model not in self.models:
                raise ValueError(f"{where}: unknown model")
            if recipe.accelerator not in self.accelerators:
                raise ValueError(f"{where}: unknown accelerator")
            if recipe.engine not in self.accelerators[recipe.accelerator].engines:
                raise ValueError(f"{where}: engine not supported by the accelerator")
            engine = self.engines[recipe.engine]
            if recipe.engine_release is not None and recipe.engine_release not in engine.releases:
                raise ValueError(f"{where}: engine_release {recipe.engine_release!r} is not a release of "
                                 f"{recipe.engine}; releases: {', '.join(engine.releases) or 'none'}")
            family = self.families.get(self.models[recipe.model].family, ModelFamily())
            recipe._family_args = list(family.serving_args.get(recipe.engine, []))
            if self.models[recipe.model].format not in engine.model_formats:
                raise ValueError(f"{where}: engine cannot load {self.models[recipe.model].format}")
            for tunable in recipe.tunables:
                if tunable not in engine.flags:
                    raise ValueError(f"{where}: engine {recipe.engine} has no argument for {tunable}")
            if recipe.parallel.nodes > 1 and not engine.multinode_head:
                raise ValueError(f"{where}: engine {recipe.engine} has no multi-node arguments")
            if recipe.cluster == "ray" and (engine.ray is None or recipe.parallel.nodes < 2):
                raise ValueError(f"{where}: a Ray cluster needs an engine with `ray` and two or more nodes")
            if recipe.additional_config and not engine.additional_config:
                raise ValueError(f"{where}: engine {recipe.engine} takes no additional_config")
            if engine.additional_config and engine.additional_config[0] in recipe.args:
                raise ValueError(f"{where}: set additional_config, not {engine.additional_config[0]} in args "
                                 "(the engine keeps only the last one given)")
            for name in recipe.env.keys() & engine.config_env_fallbacks.keys():
                raise ValueError(f"{where}: env {name} is a fallback for {engine.additional_config[0]} key "
                                 f"{engine.config_env_fallbacks[name]} that {recipe.engine} is dropping; set "
                                 "additional_config instead")
        for name, engine in self.engines.items():
            for tunable in engine.tunable_limits:
                if tunable not in engine.flags or tunable not in TUNABLES:
                    raise ValueError(f"engine {name}: tunable_limits names {tunable!r}, which it takes no argument for")
        if self.benchmarks is not None:
            serving = self.benchmarks.serving
            for engine in [serving.tool.engine, *(row.engine for row in serving.results)]:
                if engine not in self.engines:
                    raise ValueError(f"benchmarks: unknown engine {engine!r}")
        return self

    def release_for(self, recipe: Recipe) -> EngineRelease:
        """The engine release a recipe runs: the one it names, or its engine's default. Everything
        that installs an engine or reads its version or known limitations asks here."""
        engine = self.engines[recipe.engine]
        return engine.releases[recipe.engine_release] if recipe.engine_release else engine.default

    def release_for_host(self, config) -> EngineRelease:
        """The release of the recipe a host's data selects (model, accelerator, engine,
        recipe_variant); the engine's default where no recipe matches (the plan refuses it then)."""
        recipe = self.recipe(config.model, config.accelerator, config.engine, config.recipe_variant)
        return self.release_for(recipe) if recipe is not None else self.engines[config.engine].default

    def recipes_for(self, model: str, accelerator: str, engine: str) -> list[Recipe]:
        return [r for r in self.recipes if (r.model, r.accelerator, r.engine) == (model, accelerator, engine)]

    def recipe(self, model: str, accelerator: str, engine: str, variant: str | None = None) -> Recipe | None:
        """The named variant, or the first one listed (the seed's recommendation) when None."""
        for recipe in self.recipes_for(model, accelerator, engine):
            if variant is None or recipe.variant == variant:
                return recipe
        return None


def _read(name: str):
    with open(CATALOG_DIR / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class CatalogError(ValueError):
    """The catalog's data is wrong: one line naming where and what."""


def parse_catalog(parts: dict) -> Catalog:
    """The catalog from its files' data; the first problem as one line (CatalogError)."""
    try:
        return Catalog(**parts)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise CatalogError(f"catalog: {where + ': ' if where else ''}{message}") from None


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return parse_catalog(dict(
        accelerators=_read("accelerators"),
        engines=_read("engines"),
        models=_read("models"),
        families=_read("families"),
        recipes=_read("recipes"),
        nvidia=_read("nvidia"),
        amd=_read("amd"),
        ascend=_read("ascend"),
        packages=_read("packages"),
        host=_read("host"),
        benchmarks=_read("benchmarks"),
    ))
