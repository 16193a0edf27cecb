"""Host data: the typed schema, its validation against the catalog, and the resolved plan.

Everything a role needs is computed here once, from host data plus the catalog, so a bad
value is reported (host, field, what is allowed) before any host is contacted.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glmstack.catalog import COMMIT_SHA, Catalog, load_catalog
from roles.base.defaults import BaseSettings
from roles.llamacpp.defaults import LlamaCppSettings
from roles.model.defaults import ModelSettings
from roles.service.defaults import ServiceSettings

ROLE_PREFIXES = ("base_", "llamacpp_", "model_", "service_")
DEPLOYMENT_KEYS = (
    "accelerator", "model", "engine", "deployment", "served_model_name", "port",
    "max_model_len", "max_num_seqs", "extra_flags", "extra_env",
)
HUB_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
# Substrings that mark an environment variable as secret: those belong in a 0600 file.
SECRET_ENV_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY")


class HostDataError(ValueError):
    """Host data that cannot work, with every problem named by host and field."""

    def __init__(self, host: str, problems: list[tuple[str, str]]):
        self.host = host
        self.problems = problems
        lines = [f"host {host}: field {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


class DeploymentSettings(BaseModel):
    accelerator: str = Field(description="Accelerator id from the catalog (cpu, h200, ...).")
    model: str = Field(description="Model id from the catalog (glm-5.2-gguf, ...).")
    engine: str = Field(description="Engine id from the catalog (llama.cpp, vllm, ...).")
    deployment: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$",
                                   description="Name shared by hosts serving one model together.")
    served_model_name: str | None = Field(None, pattern=r"^[\w.:/-]+$",
                                          description="Name clients use in requests; None: the model id.")
    port: int | None = Field(None, ge=1, le=65535, description="Port the engine listens on.")
    max_model_len: int | None = Field(None, gt=0, description="Context length per sequence.")
    max_num_seqs: int | None = Field(None, gt=0, description="Sequences served concurrently.")
    extra_flags: list[str] = Field([], description="Extra engine arguments, appended verbatim.")
    extra_env: dict[str, str] = Field({}, description="Extra environment for the engine (no secrets).")

    @field_validator("extra_env")
    @classmethod
    def _no_inline_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if any(marker in name.upper() for marker in SECRET_ENV_MARKERS):
                raise ValueError(f"{name} looks like a secret; put tokens in a 0600 file "
                                 "(model_hf_token_file), never in host data")
        return env


class HostConfig(DeploymentSettings, BaseSettings, LlamaCppSettings, ModelSettings, ServiceSettings):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="after")
    def _token_file_is_private(self) -> HostConfig:
        token = self.model_hf_token_file
        if token is not None:
            if not token.is_file():
                raise ValueError(f"model_hf_token_file {token} does not exist")
            if stat.S_IMODE(token.stat().st_mode) & 0o077:
                raise ValueError(f"model_hf_token_file {token} is readable by others; chmod 600 it")
        return self


@dataclass(frozen=True)
class ModelPlan:
    kind: Literal["hf", "http", "path"]
    source: str
    directory: str
    entry: str
    revision: str | None = None
    include: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    token_file: Path | None = None

    @property
    def entry_path(self) -> str:
        return posixpath.join(self.directory, self.entry)

    @property
    def fingerprint(self) -> str:
        """Identifies exactly which bytes are wanted; a ready marker holding it means done."""
        parts = [self.kind, self.source, self.directory, self.entry, self.revision or "", *self.include,
                 *(f"{name}={digest}" for name, digest in self.files)]
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

    @property
    def build_key(self) -> str:
        """Builds are keyed by version and flags: same key, same binary, never rebuilt."""
        digest = hashlib.sha256("\n".join([self.version, self.backend, *self.cmake_flags]).encode())
        return f"{self.version[:12]}-{self.backend}-{digest.hexdigest()[:8]}"

    @property
    def install_dir(self) -> str:
        return posixpath.join(self.prefix, "llama.cpp", self.build_key)


@dataclass(frozen=True)
class DeployPlan:
    host: str
    config: HostConfig
    model: ModelPlan
    engine_name: str
    unit_name: str
    binary: str
    port: int
    served_model_name: str
    health_path: str
    seed: str
    serve_argv: tuple[str, ...]
    serve_env: dict[str, str] = field(default_factory=dict)
    device_allow: tuple[str, ...] = ()
    accelerator_cpu_arch: tuple[str, ...] = ()
    llamacpp: LlamaCppPlan | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.health_path}"


def _unknown_role_keys(data: dict[str, Any]) -> list[tuple[str, str]]:
    known = set(HostConfig.model_fields)
    problems = []
    for key in data:
        if key.startswith(ROLE_PREFIXES) and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append((key, f"unknown setting{hint}"))
    return problems


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(host data)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        elif isinstance(item.get("input"), (str, int, float, bool)) and where != "extra_env":
            # Scalars only: echoing a dict or list could print a secret a user pasted inline.
            message = f"{message} (got {item['input']!r})"
        problems.append((where, message))
    return problems


def _choice(kind: str, value: str, allowed: list[str]) -> tuple[str, str]:
    return (kind, f"{value!r} is not a known {kind}; allowed: {', '.join(sorted(allowed))}")


def _plan_model(config: HostConfig, catalog: Catalog, problems: list) -> ModelPlan | None:
    model = catalog.models[config.model]
    source = config.model_source or model.source
    directory = config.model_dir or posixpath.join(config.base_state_dir, "models", config.model)
    files = tuple(sorted(config.model_files.items()))
    for name, digest in files:
        if name.startswith("/") or ".." in name.split("/"):
            problems.append(("model_files", f"{name!r} must be a relative path inside the model directory"))
        if not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            problems.append(("model_files", f"{name!r}: sha256 must be 64 lowercase hex digits"))
    entry = config.model_entry or model.entry
    if entry is None and len(files) == 1:
        entry = files[0][0]
    if entry is not None and ".." in entry.split("/"):
        problems.append(("model_entry", f"{entry!r} must be a relative path inside the model directory"))

    if source.startswith("hf://"):
        repo, _, inline_revision = source.removeprefix("hf://").partition("@")
        if not HUB_REPO.match(repo):
            problems.append(("model_source", f"{source!r}: a hub source is hf://<org>/<repo>[@<commit>]"))
        revision = config.model_revision or inline_revision or model.revision
        if not revision:
            problems.append(("model_revision", f"{source} needs a pinned commit: set model_revision "
                                               "to a 40-character commit sha of the repository"))
        elif not COMMIT_SHA.match(revision):
            problems.append(("model_revision", f"{revision!r} is not a 40-character commit sha"))
        if entry is None:
            problems.append(("model_entry", "name the file the engine loads (for split GGUFs the "
                                            "-00001-of-N shard), relative to the model directory"))
        if problems:
            return None
        include = tuple(config.model_include if config.model_include is not None else model.include)
        return ModelPlan("hf", f"hf://{repo}", directory, entry, revision=revision, include=include,
                         files=files, token_file=config.model_hf_token_file)

    if source.startswith(("http://", "https://")):
        if not urlparse(source).netloc:
            problems.append(("model_source", f"{source!r} is not a URL with a host"))
        if not files:
            problems.append(("model_files", "an http(s) mirror needs every file with its sha256"))
        if entry is None:
            problems.append(("model_entry", "name the file the engine loads"))
        elif files and entry not in dict(files):
            problems.append(("model_entry", f"{entry!r} is not one of model_files"))
        if problems:
            return None
        return ModelPlan("http", source.rstrip("/"), directory, entry, files=files)

    if source.startswith("/"):
        if entry is None:
            problems.append(("model_entry", "name the file the engine loads"))
            return None
        return ModelPlan("path", source, source.rstrip("/") or "/", entry, files=files)

    problems.append(("model_source", f"{source!r}: allowed are hf://org/repo[@commit], "
                                     "http(s)://mirror/base, or an absolute path on the host"))
    return None


def _plan_llamacpp(config: HostConfig, catalog: Catalog, problems: list) -> LlamaCppPlan | None:
    engine = catalog.engines["llama.cpp"]
    backend = config.llamacpp_backend or catalog.accelerators[config.accelerator].llamacpp_backend
    if backend not in engine.backends:
        problems.append(("llamacpp_backend",
                         f"{backend!r} is not built here; allowed: {', '.join(sorted(engine.backends))}"))
        return None
    source = config.llamacpp_source or engine.source
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
    flags = (*engine.backends[backend].cmake_flags, *config.llamacpp_cmake_flags)
    return LlamaCppPlan(
        version=config.llamacpp_version or engine.version,
        source=source,
        source_kind=kind,
        source_sha256=config.llamacpp_source_sha256,
        backend=backend,
        cmake_flags=flags,
        build_packages=tuple(engine.backends[backend].build_packages),
        build_jobs=config.llamacpp_build_jobs,
        ccache_dir=config.llamacpp_ccache_dir,
        prefix=config.base_prefix,
    )


def render_serve_command(config: HostConfig, catalog: Catalog, binary: str, entry_path: str) -> list[str]:
    """The engine's command line: catalog flags for tunables, the recipe's args, then extras."""
    engine = catalog.engines[config.engine]
    recipe = catalog.recipe(config.model, config.accelerator, config.engine)
    assert recipe is not None
    tunables = dict(recipe.tunables)
    for name in ("max_model_len", "max_num_seqs"):
        if getattr(config, name) is not None:
            tunables[name] = getattr(config, name)
    values = {
        "model_path": entry_path,
        "served_model_name": config.served_model_name or config.model,
        "host": config.service_bind_host,
        "port": config.port or engine.default_port,
        **tunables,
    }
    argv = [binary]
    for name, value in values.items():
        # The catalog guarantees every engine has a flag for each of these.
        argv += [engine.flags[name], str(value)]
    return argv + list(recipe.args) + list(config.extra_flags)


def resolve(host: str, data: dict[str, Any], catalog: Catalog | None = None) -> DeployPlan:
    """Validate one host's data and resolve it against the catalog, or raise HostDataError."""
    catalog = catalog or load_catalog()
    problems = _unknown_role_keys(data)
    try:
        config = HostConfig.model_validate(data)
    except ValidationError as error:
        raise HostDataError(host, problems + _pydantic_problems(error)) from None

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
        problems.append(("engine", f"{config.engine!r} cannot run on accelerator {config.accelerator!r}; "
                                   f"allowed: {', '.join(accelerator.engines)}"))
    recipe = catalog.recipe(config.model, config.accelerator, config.engine)
    if recipe is None and not problems:
        served = sorted(r.model for r in catalog.recipes_for(config.accelerator, config.engine))
        problems.append(("model", f"no recipe serves {config.model!r} with {config.engine} on "
                                  f"{config.accelerator}; models with one: {', '.join(served) or 'none'}"))
    if problems:
        raise HostDataError(host, problems)

    model_plan = _plan_model(config, catalog, problems)
    llamacpp_plan = _plan_llamacpp(config, catalog, problems) if config.engine == "llama.cpp" else None
    if problems or model_plan is None:
        raise HostDataError(host, problems)

    engine = catalog.engines[config.engine]
    binary = posixpath.join(llamacpp_plan.install_dir, engine.binary) if llamacpp_plan else engine.binary
    env = {**recipe.env, **config.extra_env}
    return DeployPlan(
        host=host,
        config=config,
        model=model_plan,
        engine_name=config.engine,
        unit_name=engine.unit_name,
        binary=binary,
        port=config.port or engine.default_port,
        served_model_name=config.served_model_name or config.model,
        health_path=engine.health_path,
        seed=recipe.seed,
        serve_argv=tuple(render_serve_command(config, catalog, binary, model_plan.entry_path)),
        serve_env=env,
        device_allow=tuple(accelerator.device_allow),
        accelerator_cpu_arch=tuple(accelerator.cpu_arch),
        llamacpp=llamacpp_plan,
    )


class InventoryError(ValueError):
    """Problems in several hosts' data, one line per problem."""


def validate_inventory(hosts: list[tuple[str, dict[str, Any]]]) -> list[DeployPlan]:
    """Resolve every host; report the problems of all hosts together."""
    plans, errors = [], []
    for name, data in hosts:
        try:
            plans.append(resolve(name, data))
        except HostDataError as error:
            errors.append(str(error))
    if errors:
        raise InventoryError("\n".join(errors))
    return plans
