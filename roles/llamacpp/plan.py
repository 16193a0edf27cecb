"""The llamacpp role's plan: which llama.cpp is built from which source with which flags (LlamaCppPlan)."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from glmstack.bundle import bundle_llamacpp_path, host_directory
from glmstack.checks import credentials_in_url

if TYPE_CHECKING:
    from glmstack.catalog import Catalog, RpcWorker
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class LlamaCppPlan:
    version: str
    source: str
    source_kind: Literal["git", "url", "local", "bundle"]
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


def plan_llamacpp(config: HostConfig, catalog: Catalog, problems: list,
                   rpc: RpcWorker | None = None) -> LlamaCppPlan | None:
    engine = catalog.engines["llama.cpp"]
    backend = config.llamacpp_backend or catalog.accelerators[config.accelerator].llamacpp_backend
    if backend not in engine.backends:
        problems.append(("llamacpp_backend",
                         f"{backend!r} is not built here; allowed: {', '.join(sorted(engine.backends))}"))
        return None
    source = config.llamacpp_source or engine.source
    version = config.llamacpp_version or catalog.release_for_host(config).version
    if config.bundle is not None:
        # A host given a bundle builds from the bundle's tarball, on the host once its sum is checked.
        source = posixpath.join(host_directory(config.base_prefix), bundle_llamacpp_path(version))
        kind = "bundle"
    elif credentials_in_url(source.removeprefix("git+")):
        problems.append(("llamacpp_source", "credentials in a URL end up in command lines and logs; "
                                            "give the URL without them"))
        return None
    elif source.endswith(".git") or source.startswith("git+"):
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
        version=version,
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
