"""The apt part of a bundle: partial mirrors of this machine's own apt repositories.

Everything comes from this machine's apt configuration at run time (no mirror is named in
glmstack): `apt-get indextargets` says which repositories and lists it has, the lists in its state
directory are the repositories' own signed metadata (InRelease, Packages: apt keeps them, perhaps
recompressed, and the uncompressed Packages is what the signed InRelease lists), `apt-get install
--print-uris` against an empty package status gives the whole dependency closure of what the deploy
installs, and `apt-get download` fetches those .debs checked by apt. Each repository becomes
apt/<repo id>/ with dists/<suite>/InRelease, dists/<suite>/<component>/binary-<arch>/Packages,
pool/... (only the closure's .debs) and keyring/ (the key apt verifies the repository with); a node of
the same release installs from it with apt's own checks, offline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from glmstack.bundle import APT, BundleError, repo_id
from glmstack.digests import sha256_of
from glmstack.vendor_mirror import control_stanzas

DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
APT_HELPER = "/usr/lib/apt/apt-helper"


@dataclass(frozen=True)
class IndexTarget:
    repo_uri: str
    base_uri: str
    release: str
    meta_key: str
    filename: Path
    sources_entry: str


def _apt(*args: str, cwd: Path | None = None) -> str:
    process = subprocess.run(["apt-get", *args], capture_output=True, text=True, cwd=cwd)
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundleError(f"apt-get {args[0]} failed on this machine: {last}")
    return process.stdout


def index_targets(arch: str) -> list[IndexTarget]:
    """This machine's Packages lists for one architecture that apt has fetched."""
    targets = []
    for record in control_stanzas(_apt("indextargets", "--no-release-info", "Created-By: Packages")):
        if record.get("Architecture") not in (arch, "all") or record.get("Target-Of") != "deb":
            continue
        filename = Path(record["Filename"])
        # apt keeps a list recompressed (KeepCompressedAs): the file on disk has one of these suffixes.
        found = next((Path(f"{filename}{suffix}") for suffix in ("", ".lz4", ".zst", ".gz", ".xz", ".bz2", ".lzma")
                      if Path(f"{filename}{suffix}").is_file()), None)
        if found is None:
            continue
        targets.append(IndexTarget(record["Repo-URI"], record["Base-URI"], record["Release"], record["MetaKey"],
                                   found, record.get("Sourcesentry", "")))
    if not targets:
        raise BundleError(f"this machine's apt has no package lists for {arch}; run apt-get update "
                          f"(and dpkg --add-architecture {arch} for another architecture)")
    return targets


def closure(packages: list[str], arch: str) -> list[tuple[str, str, int]]:
    """(URI, file name, size) of every .deb the packages need on a host that has nothing installed."""
    with tempfile.TemporaryDirectory() as scratch:
        status = Path(scratch, "status")
        status.write_text("")
        # An empty archive cache too: --print-uris leaves out what apt has downloaded already.
        archives = Path(scratch, "archives")
        (archives / "partial").mkdir(parents=True)
        output = _apt("install", "--print-uris", "-qq", "--no-install-recommends", "-o",
                      f"Dir::State::status={status}", "-o", f"Dir::Cache::archives={archives}", "-o",
                      f"APT::Architecture={arch}", *packages)
    debs = []
    for line in output.splitlines():
        match = re.fullmatch(r"'(\S+)' (\S+) (\d+)(?: \S*)?", line.strip())
        if match:
            debs.append((match[1], match[2], int(match[3])))
    return debs


def _list_file(target: IndexTarget, name: str) -> Path:
    """A file apt keeps for the repository's release (InRelease, Release, Release.gpg)."""
    return target.filename.parent / re.sub(r"^[a-z+]+://", "", target.base_uri + name).replace("/", "_")


def _signed_sums(release_text: str) -> dict[str, str]:
    sums, inside = {}, False
    for line in release_text.splitlines():
        if line.startswith("SHA256:"):
            inside = True
        elif inside and line.startswith(" "):
            digest, _size, name = line.split()
            sums[name] = digest
        else:
            inside = False
    return sums


def _keyrings(target: IndexTarget) -> list[Path]:
    """The key(s) apt verifies this repository with: its sources entry's Signed-By, else apt's trusted keys."""
    entry_file, _, index = target.sources_entry.rpartition(":")
    if entry_file.endswith(".sources") and Path(entry_file).is_file():
        stanzas = [p for p in control_stanzas(Path(entry_file).read_text()) if "URIs" in p]
        for stanza in stanzas:
            if target.repo_uri.rstrip("/") in [uri.rstrip("/") for uri in stanza["URIs"].split()]:
                signed_by = stanza.get("Signed-By", "")
                if signed_by.startswith("-----BEGIN"):
                    raise BundleError(f"{entry_file}: an inline Signed-By key is not read; give a keyring file")
                if signed_by:
                    return [Path(word) for word in signed_by.replace(",", " ").split()]
    elif entry_file and Path(entry_file).is_file():
        line = Path(entry_file).read_text().splitlines()[int(index or 1) - 1]
        match = re.search(r"signed-by=([^\s\]]+)", line)
        if match:
            return [Path(match[1])]
    trusted = sorted(Path("/etc/apt/trusted.gpg.d").glob("*.gpg")) + [Path("/etc/apt/trusted.gpg")]
    return [path for path in trusted if path.is_file()]


def _gpgv(keyrings: list[Path], signed: list[Path]) -> None:
    args = [item for keyring in keyrings for item in ("--keyring", str(keyring))]
    process = subprocess.run(["gpgv", *args, *map(str, signed)], capture_output=True, text=True)
    if process.returncode != 0:
        raise BundleError(f"{signed[0].name}: its signature does not verify with {', '.join(map(str, keyrings))}")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Renaming a link onto another link of the same file does nothing (POSIX): the .partial would stay.
    if dest.exists() and os.path.samefile(src, dest):
        return
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(src, partial)
    except OSError:
        shutil.copyfile(src, partial)
    os.chmod(partial, 0o644)
    partial.replace(dest)


def _packages_list(target: IndexTarget, sums: dict[str, str], dists: Path, cache: Path) -> None:
    """The repository's own Packages list as its signed release names it. apt reads an xz list first
    when the release lists one (and takes no other in its place), so that one is fetched, checked
    against the signed sum; without it, the uncompressed list this machine's apt keeps."""
    xz = f"{target.meta_key}.xz"
    if xz in sums:
        cached = cache / "lists" / f"{sums[xz]}.xz"
        if not cached.is_file() or sha256_of(cached) != sums[xz]:
            cached.parent.mkdir(parents=True, exist_ok=True)
            process = subprocess.run([APT_HELPER, "download-file", target.base_uri + xz, str(cached),
                                      f"SHA256:{sums[xz]}"], capture_output=True, text=True)
            if process.returncode != 0:
                raise BundleError(f"{target.base_uri}{xz}: could not be fetched with apt's configuration: "
                                  f"{(process.stderr.strip().splitlines() or ['no output'])[-1]}")
        _copy(cached, dists / xz)
        return
    dest = dists / target.meta_key
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as handle:
        subprocess.run([APT_HELPER, "cat-file", str(target.filename)], stdout=handle, check=True)
    if sums.get(target.meta_key) != sha256_of(dest):
        raise BundleError(f"{target.filename}: uncompressed, it is not the {target.meta_key} its signed release "
                          "lists; run apt-get update and make the bundle again")
    os.chmod(dest, 0o644)


def write_apt_mirrors(out: Path, packages: list[str], cpu_arch: str, cache: Path) -> list[str]:
    """apt/<repo id>/ for each repository the packages' closure comes from; the repo ids."""
    arch = DEB_ARCH.get(cpu_arch)
    if arch is None:
        raise BundleError(f"apt packages for CPU architecture {cpu_arch}: allowed: {', '.join(DEB_ARCH)}")
    targets = index_targets(arch)
    debs = closure(packages, arch)
    repos: dict[str, list[IndexTarget]] = {}
    for target in targets:
        repos.setdefault(target.repo_uri, []).append(target)
    by_repo: dict[str, list[tuple[str, str, int]]] = {}
    for uri, name, size in debs:
        repo = next((r for r in repos if uri.startswith(r)), None)
        if repo is None:
            raise BundleError(f"{name} comes from {uri}, which none of this machine's apt lists is for")
        by_repo.setdefault(repo, []).append((uri, name, size))

    cache.mkdir(parents=True, exist_ok=True)
    missing = [(uri, name) for uri, name, size in debs
               if not (cache / name).is_file() or (cache / name).stat().st_size != size]
    if missing:
        # apt-get download checks each file against the signed lists' sums.
        pins = []
        for _uri, name in missing:
            package, version, _ = unquote(name).split("_")
            pins.append(f"{package}={version}")
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            status = Path(scratch, "status")
            status.write_text("")
            _apt("download", "-qq", "-o", f"Dir::State::status={status}", "-o", f"APT::Architecture={arch}",
                 *pins, cwd=cache)

    ids = []
    for repo, entries in sorted(by_repo.items()):
        ident = repo_id(repo)
        root = out / APT / ident
        keyrings = _keyrings(repos[repo][0])
        for keyring in keyrings:
            _copy(keyring, root / "keyring" / keyring.name)
        for release in sorted({t.release for t in repos[repo]}):
            release_targets = [t for t in repos[repo] if t.release == release]
            inrelease = _list_file(release_targets[0], "InRelease")
            dists = root / "dists" / release
            if inrelease.is_file():
                _gpgv(keyrings, [inrelease])
                _copy(inrelease, dists / "InRelease")
                signed = inrelease.read_text(errors="replace")
            else:
                plain, signature = _list_file(release_targets[0], "Release"), _list_file(release_targets[0],
                                                                                         "Release.gpg")
                _gpgv(keyrings, [signature, plain])
                _copy(plain, dists / "Release")
                _copy(signature, dists / "Release.gpg")
                signed = plain.read_text(errors="replace")
            sums = _signed_sums(signed)
            for target in release_targets:
                _packages_list(target, sums, dists, cache)
        for uri, name, _size in entries:
            _copy(cache / name, root / unquote(uri[len(repo):]))
        ids.append(ident)
    return ids


def release_codename() -> str:
    """This machine's release: the one its apt mirrors are for."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise BundleError("/etc/os-release names no VERSION_CODENAME: apt mirrors need a Debian or Ubuntu machine")
