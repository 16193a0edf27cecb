"""An operator's Ascend package set: its manifest, checked against the catalog and the files.

Ascend's driver, firmware and CANN installers are login-gated downloads, so glmstack takes them
from the operator: a directory on the control machine or an http(s) mirror, described by a
manifest (manifest.yaml) listing each installer's component, file name, version and sha256:

    packages:
      - {component: driver, file: Atlas-A3-hdk-npu-driver_25.5.1_linux-aarch64.run,
         version: 25.5.1, sha256: 3f7c...}

Everything that can be checked without a host is checked here, before any host is touched: one
installer per component, named as the catalog says the chip's installers are named, the CANN
parts at one version, that version the one the engine's vllm-ascend release needs, and, for a
directory, every file present with its sum. The hosts check the sums again after the transfer.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from glmstack.catalog import ASCEND_COMPONENTS, AscendComponent, Catalog
from glmstack.digests import sha256_of

ARCH_HYPHEN = {"aarch64": "aarch64", "x86_64": "x86-64"}


class AscendPackage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    component: Literal["driver", "firmware", "toolkit", "ops", "nnal"]
    file: str = Field(pattern=r"^[\w.+-]+\.run$")
    version: str = Field(pattern=r"^[\w.+-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AscendManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packages: list[AscendPackage] = Field(min_length=1)


def load_manifest(path: Path) -> AscendManifest:
    """The manifest, or ValueError saying what is wrong with it."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ValueError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not YAML: {error}") from None
    try:
        return AscendManifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


def expected_file(component: AscendComponent, chip: dict, version: str, arch: str) -> str:
    pattern = component.file
    if component.file_before_8_5 and _before_8_5(version):
        pattern = component.file_before_8_5
    return pattern.format(version=version, arch=arch, arch_hyphen=ARCH_HYPHEN[arch], **chip)


def _before_8_5(version: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", version)[:2]]
    return numbers < [8, 5]


@lru_cache(maxsize=256)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:  # noqa: ARG001 - the key: a changed file rehashes
    # Every host of an inventory resolves the whole inventory: each installer is hashed once.
    return sha256_of(path)


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


def check_package_set(manifest: AscendManifest, catalog: Catalog, accelerator: str, cann: str,
                      directory: Path | None) -> tuple[list[tuple[str, str]], str | None]:
    """Problems with the set, as (setting, message naming the file or component), and the CPU
    architecture its installers are built for."""
    platform = catalog.ascend
    chip = platform.chips[accelerator].model_dump()
    allowed_arches = catalog.accelerators[accelerator].cpu_arch
    problems: list[str] = []
    file_problems: list[str] = []
    by_component: dict[str, list[AscendPackage]] = {}
    for package in manifest.packages:
        by_component.setdefault(package.component, []).append(package)
    for component in ASCEND_COMPONENTS:
        listed = by_component.get(component, [])
        if len(listed) != 1:
            problems.append(f"the manifest must list one {component} installer, it lists {len(listed)}")
    if problems:
        return [("ascend_manifest", problem) for problem in problems], None

    arches = set(allowed_arches)
    for component in ASCEND_COMPONENTS:
        package = by_component[component][0]
        names = {arch: expected_file(platform.components[component], chip, package.version, arch)
                 for arch in allowed_arches}
        matching = {arch for arch, name in names.items() if name == package.file}
        if not matching:
            problems.append(f"{package.file}: not the {component} installer of {package.version} for "
                            f"{accelerator}; expected {' or '.join(sorted(set(names.values())))}")
        elif not arches & matching:
            problems.append(f"{package.file}: built for {', '.join(sorted(matching))}, the other installers "
                            f"for {', '.join(sorted(arches))}")
        else:
            arches &= matching
    versions = {by_component[c][0].version for c in platform.cann_components}
    if len(versions) > 1:
        problems.append(f"the CANN parts ({', '.join(platform.cann_components)}) must share one version; "
                        f"the manifest has {', '.join(sorted(versions))}")
    elif cann not in versions:
        problems.append(f"CANN {versions.pop()} in the package set, but the engine needs CANN {cann} "
                        "(vllm-ascend's versioning table)")
    if directory is not None and not problems:
        for package in manifest.packages:
            path = directory / package.file
            if not path.is_file():
                file_problems.append(f"{package.file}: not in {directory}")
            elif file_sha256(path) != package.sha256:
                file_problems.append(f"{package.file}: its sha256 is not the manifest's (a corrupted or "
                                     "different file); nothing was installed")
    return ([("ascend_manifest", problem) for problem in problems]
            + [("ascend_packages", problem) for problem in file_problems],
            next(iter(arches)) if len(arches) == 1 else None)


def source_first_existing(groups: tuple[tuple[str, ...], ...]) -> str:
    """Shell that sources, of each group of alternatives, the first script that exists (CANN 8.5
    moved the toolkit's; sourcing both would add every directory twice); `found` is set when any was."""
    return "; ".join(
        f"for f in {' '.join(shlex.quote(path) for path in group)}; do "
        'if [ -f "$f" ]; then . "$f" >/dev/null 2>&1; found=1; break; fi; done'
        for group in groups)
