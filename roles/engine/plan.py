"""The engine role's plan: a Python engine's virtual environment (EngineEnvPlan): what uv installs,
where, and how it is proven; and the (Python, platform) targets it is made for."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmstack.bundle import host_directory
from glmstack.catalog import load_catalog
from glmstack.checks import credentials_in_url
from glmstack.fill import fill, requirement_name
from roles.ascend.plan import ascend_wheels

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig
    from roles.amd.plan import AmdPlan
    from roles.ascend.plan import AscendPlan
    from roles.nvidia.plan import NvidiaPlan


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
    # Where the host keeps a bundle's files (host data's bundle): the set is installed from its wheels.
    bundle_dir: str | None = None

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
                                               if requirement_name(r) not in self.source_packages)


def plan_engine_env(config: HostConfig, catalog: Catalog, nvidia: NvidiaPlan | None,
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
        wheels = ascend_wheels(config, catalog, arch)
    if wheels is None or release.version is None:
        return None
    values = {"version": release.version, "arch": arch, "gfx": accelerator.gfx_arch or ""}
    model_requirements = catalog.models[config.model].python_requirements.get(config.engine, [])
    return EngineEnvPlan(
        engine=config.engine,
        version=release.version,
        prefix=config.base_prefix,
        requirements=tuple(_with_engine_requirement(config, fill(wheels.requirements, values)))
        + tuple(model_requirements) + tuple(extra_requirements),
        torch_backend=wheels.torch_backend,
        system_packages=tuple([*engine.system_packages, *wheels.system_packages,
                               *(["git"] if "git+" in (config.engine_requirement or "") else [])]),
        extra_index_urls=tuple(fill(wheels.extra_index_urls, values)),
        python=wheels.python,
        build_env=tuple((k, fill([v], values)[0]) for k, v in sorted(wheels.build_env.items())),
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
                              or requirement_name(config.engine_requirement) != name),
        build_requirements=tuple(wheels.build_requirements),
        index_only=tuple(sorted(wheels.index_only.items())),
        bundle_dir=host_directory(config.base_prefix) if config.bundle else None,
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


def _with_engine_requirement(config: HostConfig, requirements: list[str]) -> list[str]:
    """The catalog's requirements with the engine's own package replaced by the host's build."""
    if config.engine_requirement is None:
        return requirements
    name = requirement_name(config.engine_requirement)
    return [config.engine_requirement if requirement_name(r) == name else r for r in requirements]


def engine_requirement_problems(config: HostConfig, catalog: Catalog,
                                 engine_env: EngineEnvPlan | None) -> list[tuple[str, str]]:
    graft = catalog.models[config.model].graft
    if config.engine_requirement is None:
        if graft is not None:
            return [("engine_requirement", f"{config.model} needs {graft.engine_patch}: name your build, pinned, "
                                           "as 'vllm @ https://host/vllm-....whl#sha256=<64 hex>' or "
                                           "'vllm @ git+https://host/repo.git@<commit>'")]
        return []
    if credentials_in_url(config.engine_requirement.split(" @ ", 1)[1].removeprefix("git+")):
        return [("engine_requirement", "credentials in a URL end up in command lines and logs; give the URL "
                                       "without them")]
    if engine_env is None:
        return [("engine_requirement", f"{config.engine} on {config.accelerator} is not installed from Python "
                                       "packages here; there is nothing to replace")]
    if config.engine_requirement not in engine_env.requirements:  # nothing of that name was replaced
        return [("engine_requirement", f"{requirement_name(config.engine_requirement)!r} is not one of the "
                                       "engine's packages; allowed: "
                                       f"{', '.join(requirement_name(r) for r in engine_env.requirements)}")]
    return []
