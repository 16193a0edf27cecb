"""A bundle: one directory holding everything an inventory's deploy needs from outside the lab.

Layout (docs/offline.md; the manifest is the contract, written last):

    manifest.json           format, the inventory's hosts and what each needs, every file's sha256
    apt/<repo id>/          a partial mirror: the repository's own signed metadata (dists/<suite>/
                            InRelease, its Packages) and only the .debs the deploy installs (pool/...),
                            with keyring/ the key(s) apt verifies it with
    python/<set id>/        the wheels of one Python package set for one target, and requirements.txt,
                            its lock with hashes
    tools/uv/<target>/      uv's wheel for each target platform
    llama.cpp/              the pinned llama.cpp source tarball
    weights/<model>-<key>/  optional (--weights): the model's files, checked against their pinned sums
                            (glmstack.bundle_weights)

Nothing here contacts a host: writing a bundle is glmstack.bundling, taking one the roles'.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from glmstack.digests import sha256_of

FORMAT = 1
MANIFEST = "manifest.json"
# The parts of a bundle, each a top-level directory.
APT, PYTHON, TOOLS, LLAMACPP, WEIGHTS = "apt", "python", "tools", "llama.cpp", "weights"
# The vendors' dnf partial mirrors and the Ascend package sets (glmstack.vendor_bundle).
DNF, ASCEND = "dnf", "ascend"
PARTS = (APT, DNF, ASCEND, PYTHON, TOOLS, LLAMACPP, WEIGHTS)
# What a relative path inside a bundle may be made of: no "..", no leading "/", printable words.
SAFE_PATH = re.compile(r"^[A-Za-z0-9_.+~:-]+(/[A-Za-z0-9_.+~:%-]+)*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """A bundle that cannot be used or written, in one line naming what is wrong."""


@dataclass
class HostNeeds:
    """What one host's deploy takes from the bundle."""

    apt_packages: list[str] = field(default_factory=list)
    apt_repos: list[str] = field(default_factory=list)
    python_sets: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    llamacpp_source: str | None = None
    weights: str | None = None
    # The vendors' partial mirrors this host installs from (glmstack.vendor_bundle): their files.
    vendor_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"apt_packages": self.apt_packages, "apt_repos": self.apt_repos, "python_sets": self.python_sets,
                "tools": self.tools, "llamacpp_source": self.llamacpp_source, "weights": self.weights,
                "vendor_files": self.vendor_files}

    def parts(self) -> list[str]:
        """The directories (relative to the bundle) this host's deploy reads."""
        paths = [f"{APT}/{repo}" for repo in self.apt_repos] + [f"{PYTHON}/{name}" for name in self.python_sets]
        paths += [f"{TOOLS}/{name}" for name in self.tools]
        if self.llamacpp_source:
            paths.append(self.llamacpp_source)
        if self.weights:
            paths.append(self.weights)
        return paths + self.vendor_files


def for_pythons(parts: list[str], pythons: set[str]) -> list[str]:
    """The parts a host takes when its Pythons are known (tags like "cp311"): each Python set and tool of
    another Python is left out (a bundle holds one per supported distribution's Python)."""
    if not pythons:
        return parts
    kept = []
    for part in parts:
        match = re.search(r"-(cp\d+)-", part.rsplit("/", 1)[-1]) if part.split("/", 1)[0] in (PYTHON, TOOLS) else None
        if match is None or match[1] in pythons:
            kept.append(part)
    return kept


def check_relative(path: str) -> str:
    """A manifest's file path, refused when it could name something outside the bundle."""
    if not SAFE_PATH.fullmatch(path) or any(part in (".", "..") for part in path.split("/")):
        raise BundleError(f"{MANIFEST}: file {path!r} is not a plain relative path inside the bundle")
    if path.split("/", 1)[0] not in PARTS:
        raise BundleError(f"{MANIFEST}: file {path!r} is outside the bundle's parts ({', '.join(PARTS)})")
    return path


def file_entries(root: Path, known: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Every file under the bundle's parts: relative path -> sha256 and size. `known`: sums already
    computed while the file was checked (weights: not read a second time), taken when the size agrees."""
    entries, known = {}, known or {}
    for part in PARTS:
        base = root / part
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_symlink():
                raise BundleError(f"{path}: a bundle holds plain files, not links")
            if path.is_file():
                relative = check_relative(path.relative_to(root).as_posix())
                size = path.stat().st_size
                entry = known.get(relative)
                entries[relative] = ({"sha256": entry["sha256"], "size": size} if entry and entry["size"] == size
                                     else {"sha256": sha256_of(path), "size": size})
    return entries


def write_manifest(root: Path, inventory: str, hosts: dict[str, HostNeeds], extra: dict[str, Any] | None = None,
                   files: dict[str, dict[str, Any]] | None = None,
                   known: dict[str, dict[str, Any]] | None = None) -> Path:
    """The manifest, written last and atomically: a bundle without one is half-written."""
    document = {
        "format": FORMAT,
        "inventory": inventory,
        "hosts": {name: needs.as_dict() for name, needs in sorted(hosts.items())},
        **(extra or {}),
        "files": files if files is not None else file_entries(root, known),
    }
    manifest = root / MANIFEST
    partial = root / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    os.chmod(partial, 0o644)
    partial.replace(manifest)
    return manifest


def parse_manifest(text: str, where: str) -> dict[str, Any]:
    """A manifest's content checked for shape: format, hosts, and files with their sums."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{where}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleError(f"{where}: format {document.get('format') if isinstance(document, dict) else None!r} "
                          f"is not one this glmstack reads; allowed: {FORMAT}")
    files = document.get("files")
    if not isinstance(files, dict) or not isinstance(document.get("hosts"), dict):
        raise BundleError(f"{where}: needs 'files' and 'hosts' objects")
    for path, entry in files.items():
        check_relative(path)
        if not isinstance(entry, dict) or not SHA256.fullmatch(str(entry.get("sha256"))) \
                or not isinstance(entry.get("size"), int):
            raise BundleError(f"{where}: file {path!r} needs a sha256 (64 hex) and a size")
    return document


def read_manifest(root: Path) -> dict[str, Any]:
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise BundleError(f"{root}: no {MANIFEST}: not a bundle, or one whose writing did not finish; "
                          "make it again with glmstack bundle")
    return parse_manifest(manifest.read_text(), str(manifest))


def files_under(document: dict[str, Any], parts: list[str]) -> dict[str, dict[str, Any]]:
    """The manifest's files inside the given parts (a directory, or one file)."""
    chosen = {}
    for path, entry in document["files"].items():
        if any(path == part or path.startswith(part.rstrip("/") + "/") for part in parts):
            chosen[path] = entry
    return chosen


# Files this process has read already (path, size, mtime -> sha256): hosts sharing a bundle's weights
# (hundreds of GB) have them checked once per deploy, not once per host.
_CHECKED: dict[tuple[str, int, int], str] = {}


def verify_files(root: Path, files: dict[str, dict[str, Any]]) -> None:
    """Each file is there with its manifest's sha256; the first that is not is named."""
    for path, entry in sorted(files.items()):
        local = root / path
        if not local.is_file():
            raise BundleError(f"{root}: file {path} of the manifest is missing")
        stat = local.stat()
        seen = (str(local), stat.st_size, stat.st_mtime_ns)
        if seen not in _CHECKED:
            _CHECKED[seen] = sha256_of(local)
        if stat.st_size != entry["size"] or _CHECKED[seen] != entry["sha256"]:
            raise BundleError(f"{root}: file {path} does not match the manifest's sha256 (altered or truncated)")


def verify_bundle(root: Path, parts: list[str] | None = None) -> dict[str, Any]:
    """Read the manifest and check every file (or those of the given parts) against it."""
    document = read_manifest(root)
    verify_files(root, document["files"] if parts is None else files_under(document, parts))
    return document


def host_needs(document: dict[str, Any], host: str) -> HostNeeds:
    entry = document["hosts"].get(host)
    if entry is None:
        raise BundleError(f"host {host}: field bundle: the bundle was made for {', '.join(document['hosts']) or 'no'} "
                          f"host(s), not this one; make it again from this inventory")
    return HostNeeds(**{key: entry.get(key, HostNeeds().as_dict()[key]) for key in HostNeeds().as_dict()})


# ---- where a bundle is, as host data gives it


@dataclass(frozen=True)
class BundleSource:
    """host data's `bundle`: a directory on the control machine, or an http(s) URL on the lab network."""

    value: str
    kind: str  # "path" or "url"

    def join(self, relative: str) -> str:
        if self.kind == "url":
            return self.value.rstrip("/") + "/" + relative
        return str(Path(self.value) / relative)


def bundle_source_problem(value: str) -> str | None:
    """Why host data's bundle cannot be used, or None (the manifest itself is read at deploy time)."""
    if any(not ch.isprintable() or ch.isspace() for ch in value):
        return "holds a space or control character; allowed: an absolute path or an http(s) URL without them"
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"{value!r} is not an http(s) URL; allowed: an absolute directory on this machine or http(s)://HOST/..."
        if parts.username or parts.password:
            return "credentials in a URL end up in command lines and logs; give the URL without them"
        if parts.query or parts.fragment:
            return "an http(s) URL of the bundle's directory has no query or fragment"
        return None
    if not value.startswith("/"):
        return f"{value!r}: allowed: an absolute directory on this machine or an http(s) URL"
    root = Path(value)
    if not root.is_dir():
        return f"{value} is not a directory on this machine; make one with glmstack bundle INVENTORY {value}"
    if not (root / MANIFEST).is_file():
        return (f"{value} has no {MANIFEST} (not a bundle, or its writing did not finish); make it again with "
                "glmstack bundle")
    return None


def bundle_source(value: str) -> BundleSource:
    return BundleSource(value, "url" if "://" in value else "path")


def host_directory(state_dir: str) -> str:
    """Where a host keeps the parts of a bundle it was given (uploaded or fetched), checked by sha256."""
    return posixpath.join(state_dir, "bundle")


def bundle_llamacpp_path(version: str) -> str:
    """The llama.cpp source tarball's place in a bundle: named by the commit or tag it holds."""
    return f"{LLAMACPP}/llama.cpp-{version[:12]}.tar.gz"


def host_manifest_lines(files: dict[str, dict[str, Any]]) -> str:
    """sha256sum's check format for these files: what a host verifies its copy with."""
    return "".join(f"{entry['sha256']}  {path}\n" for path, entry in sorted(files.items()))


def repo_id(repo_uri: str) -> str:
    """A repository's directory name in the bundle, from its URI (no host name is written in glmstack)."""
    parts = urlsplit(repo_uri)
    words = [parts.hostname or "local", *(p for p in PurePosixPath(parts.path).parts if p != "/")]
    return re.sub(r"[^A-Za-z0-9.+~-]", "-", "_".join(words)).strip("-_")
