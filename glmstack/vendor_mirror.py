"""Write a bundle's partial mirrors of the vendors' repositories (what glmstack.vendor_repos names).

For each repository: its signing key is checked against the catalog's fingerprint (or the sum the
vendor publishes of it) exactly as the roles check it on a host; the repository's own signed
metadata (apt: InRelease, or Release and Release.gpg; dnf: repodata/repomd.xml and its .asc
where the vendor signs it) is verified with that key; every index is checked against the sums the
signed file gives; the packages the hosts install and their dependency closure inside the
repository are fetched, each checked against its index's sha256, and written at the repository's
own paths (so Packages' Filename and primary's location resolve). The metadata is copied byte for
byte: a host's apt or dnf verifies the partial mirror with the vendor's key as it would the vendor's
repository. Anything that does not check out stops the bundle, naming the file.

Dependencies the vendor's repository does not hold (dkms, the kernel headers, libc) come from the
distribution: they are returned, for the bundle's distribution mirror.
"""

from __future__ import annotations

import bz2
import configparser
import gzip
import hashlib
import io
import lzma
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from glmstack.vendor_repos import APT, DNF, PackagePin, VendorRepo

DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress, ".xz": lzma.decompress, ".bz2": bz2.decompress, ".lzma": lzma.decompress, "": bytes}


class MirrorError(ValueError):
    """A repository, index or package that does not check out: one line naming the file."""


# ---- fetching ----


@dataclass
class Fetcher:
    """Downloads over http(s): small files into memory, packages to disk through a cache keyed by
    the sha256 their index gives (a package already fetched once is not fetched again)."""

    cache: Path | None = None
    timeout: float = 60

    def get(self, url: str, missing_ok: bool = False) -> bytes | None:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                return response.read()
        except urllib.error.HTTPError as error:
            if missing_ok and error.code == 404:
                return None
            raise MirrorError(f"{url}: {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise MirrorError(f"{url}: {getattr(error, 'reason', error)}") from None

    def download(self, url: str, dest: Path, sha256: str, size: int | None = None) -> None:
        """Fetch url to dest; its sha256 (and size) must be the index's, or nothing is written."""
        cached = self.cache / "sha256" / sha256 if self.cache else None
        if cached is not None and cached.is_file() and _file_sha256(cached) == sha256:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, dest)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        digest, length = hashlib.sha256(), 0
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response, partial.open("wb") as out:  # noqa: S310
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    length += len(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise MirrorError(f"{url}: {getattr(error, 'reason', error)}") from None
        if digest.hexdigest() != sha256 or (size is not None and length != size):
            partial.unlink(missing_ok=True)
            raise MirrorError(f"{url}: its sha256 is not the one the repository's signed index gives "
                              f"({sha256}); not bundled")
        partial.replace(dest)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dest, cached)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---- keys and signatures ----


def key_fingerprints(key: bytes) -> list[str]:
    """The primary keys' fingerprints in an OpenPGP key file (armored or binary)."""
    with tempfile.TemporaryDirectory() as home, tempfile.NamedTemporaryFile(suffix=".key") as handle:
        handle.write(key)
        handle.flush()
        shown = subprocess.run(["gpg", "--homedir", home, "--batch", "--show-keys", "--with-colons", handle.name],
                               capture_output=True, text=True, check=False)
    fingerprints, primary = [], False
    for line in shown.stdout.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            primary = fields[0] == "pub"
        elif fields[0] == "fpr" and primary:
            fingerprints.append(fields[9])
            primary = False
    return fingerprints


def binary_keyring(key: bytes) -> bytes:
    """gpgv reads binary keyrings: dearmor an armored key."""
    if not key.lstrip().startswith(b"-----BEGIN"):
        return key
    return subprocess.run(["gpg", "--batch", "--dearmor"], input=key, capture_output=True, check=True).stdout


def gpgv(keyring: bytes, signed: bytes, signature: bytes | None, what: str) -> bytes:
    """Verify a clearsigned file (signature None: its text is returned) or a detached signature with
    the keyring only; otherwise MirrorError naming `what`."""
    with tempfile.TemporaryDirectory() as work:
        ring, data = Path(work) / "vendor.gpg", Path(work) / "signed"
        ring.write_bytes(keyring)
        data.write_bytes(signed)
        argv = ["gpgv", "--keyring", str(ring)]
        if signature is None:
            argv += ["--output", str(Path(work) / "text"), str(data)]
        else:
            (Path(work) / "signature").write_bytes(signature)
            argv += [str(Path(work) / "signature"), str(data)]
        checked = subprocess.run(argv, capture_output=True, check=False)
        if checked.returncode != 0:
            raise MirrorError(f"{what}: its signature does not verify with the vendor's key; not bundled")
        return (Path(work) / "text").read_bytes() if signature is None else signed


def require_fingerprint(key: bytes, fingerprint: str, what: str) -> None:
    found = key_fingerprints(key)
    if not found or any(each != fingerprint for each in found):
        raise MirrorError(f"{what}: the key is {', '.join(found) or 'unreadable'}, not the vendor's {fingerprint}; "
                          "not bundled")


def key_sum_without_version(key: bytes) -> str:
    """The sum NVIDIA publishes of its RPM key: the text without its Version line (the roles' check)."""
    lines = [line for line in key.decode().splitlines(keepends=True) if not line.startswith("Version")]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def deb_members(deb: bytes) -> dict[str, bytes]:
    """The files of a .deb's data archive (ar, then a gzip/xz/bz2 tar), path -> bytes."""
    if not deb.startswith(b"!<arch>\n"):
        raise MirrorError("not a Debian package")
    offset, files = 8, {}
    while offset + 60 <= len(deb):
        name, size = deb[offset:offset + 16].decode().strip().rstrip("/"), int(deb[offset + 48:offset + 58])
        body = deb[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as archive:
                for member in archive.getmembers():
                    if member.isfile():
                        files[member.name.lstrip("./")] = archive.extractfile(member).read()
    return files


# ---- Debian versions and control files ----


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    while a or b:
        a_text, a = re.match(r"(\D*)(.*)", a).groups()
        b_text, b = re.match(r"(\D*)(.*)", b).groups()
        for x, y in zip(a_text + "\0" * len(b_text), b_text + "\0" * len(a_text), strict=False):
            ox, oy = (0 if x == "\0" else _order(x)), (0 if y == "\0" else _order(y))
            if ox != oy:
                return -1 if ox < oy else 1
        a_num, a = re.match(r"(\d*)(.*)", a).groups()
        b_num, b = re.match(r"(\d*)(.*)", b).groups()
        if int(a_num or 0) != int(b_num or 0):
            return -1 if int(a_num or 0) < int(b_num or 0) else 1
    return 0


def deb_version_compare(a: str, b: str) -> int:
    """dpkg's ordering of two versions: -1, 0 or 1."""
    def split(version: str) -> tuple[int, str, str]:
        epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), upstream, revision

    (ea, ua, ra), (eb, ub, rb) = split(a), split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def control_stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs (Packages, Release): field -> value, continuation lines joined by newlines."""
    stanzas, current, last = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last:
            current[last] += "\n" + line.strip()
        elif ":" in line and not line.startswith("#"):  # deb822 .sources files hold comments
            last, _, value = line.partition(":")
            current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _deb_satisfies(version: str, relation: str | None, wanted: str | None) -> bool:
    if relation is None:
        return True
    order = deb_version_compare(version, wanted)
    return {"<<": order < 0, "<=": order <= 0, "=": order == 0, ">=": order >= 0, ">>": order > 0,
            "<": order <= 0, ">": order >= 0}[relation]


def parse_relations(value: str) -> list[list[tuple[str, str | None, str | None]]]:
    """Depends: clauses of alternatives, each (name, relation, version); qualifiers dropped."""
    clauses = []
    for clause in value.split(","):
        alternatives = []
        for alternative in clause.split("|"):
            alternative = re.sub(r"\[[^]]*\]|<[^>]*>", "", alternative).strip()
            if not alternative:
                continue
            found = re.match(r"([^\s(]+)\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?", alternative)
            alternatives.append((found.group(1).split(":")[0], found.group(2), found.group(3)))
        if alternatives:
            clauses.append(alternatives)
    return clauses


# ---- what a mirror holds ----


@dataclass
class MirrorResult:
    """What one repository's partial mirror holds: files written (relative to OUT) and the
    dependencies left to the distribution's own repositories."""

    written: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)  # name=version of each package bundled
    from_distribution: set[str] = field(default_factory=set)


def _pinned_choice(candidates: list, version_of: Callable, compare: Callable, name: str, repo: VendorRepo,
                   exact: str | None) -> object | None:
    """The newest candidate, at `exact` (an upstream version) where given, or at the repository's
    pin for a name its globs follow (when one is there: apt's pin only prefers it)."""
    def upstream(version: str) -> str:
        return version.split(":", 1)[-1].rsplit("-", 1)[0]

    if exact is not None:
        candidates = [c for c in candidates if upstream(version_of(c)) == exact]
    elif repo.pinned_version and any(fnmatch(name, glob) for glob in repo.version_globs):
        candidates = [c for c in candidates if upstream(version_of(c)) == repo.pinned_version] or candidates
    if not candidates:
        return None
    best = candidates[0]
    for each in candidates[1:]:
        if compare(version_of(each), version_of(best)) > 0:
            best = each
    return best


def _pinned_packages(pins, by_name: dict, version_of: Callable, compare: Callable, repo: VendorRepo):
    """Each pin's chosen package in this repository (_pinned_choice); a pinned name the repository
    lacks is skipped (the caller decides: another repository of the vendor, or the distribution)."""
    for pin in pins:
        if pin.name not in by_name:
            continue
        best = _pinned_choice(by_name[pin.name], version_of, compare, pin.name, repo, pin.version)
        if best is None:
            raise _missing(repo, pin)
        yield best


def _missing(repo: VendorRepo, pin: PackagePin) -> MirrorError:
    """A package a host installs that the vendor's repository does not have (at its pin)."""
    what = f"{pin.name} {pin.version}" if pin.version else pin.name
    return MirrorError(f"host {repo.hosts[0]}: field {repo.vendor}_repo_url: {what} is not in "
                       f"{repo.base_url}/{repo.path} ({repo.distribution}, {repo.arch}); the bundle cannot carry "
                       "it: pin a version the repository has, or point the setting at a repository that has it")


# ---- apt ----


@dataclass(frozen=True)
class AptSource:
    """One apt repository below the vendor's base URL: flat (suite "/") or with dists/."""

    path: str  # below base_url
    suite: str
    components: tuple[str, ...] = ()

    @property
    def release_dir(self) -> str:
        return self.path if self.suite.endswith("/") else f"{self.path}/dists/{self.suite}"


def apt_sources_of(files: dict[str, bytes], base_url: str, upstream_url: str) -> list[AptSource]:
    """The repositories an installer package's apt sources name (one-line or deb822 format), each
    below `upstream_url` (the vendor's own base, which the sources name)."""
    found = []
    for name, data in sorted(files.items()):
        if not re.match(r"etc/apt/sources\.list\.d/.*\.(list|sources)$", name):
            continue
        text = data.decode()
        entries = []
        if name.endswith(".list"):
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if words[:1] == ["deb"] and len(words) >= 3:
                    entries.append((words[1], words[2], tuple(words[3:])))
        else:
            for stanza in control_stanzas(text):
                if "deb" in stanza.get("Types", "").split():
                    for uri in stanza.get("URIs", "").split():
                        for suite in stanza.get("Suites", "").split():
                            entries.append((uri, suite, tuple(stanza.get("Components", "").split())))
        for uri, suite, components in entries:
            uri = uri.rstrip("/")
            for base in (upstream_url.rstrip("/"), base_url.rstrip("/")):
                if uri.startswith(base + "/"):
                    found.append(AptSource(uri[len(base) + 1:], suite, components))
                    break
            else:
                raise MirrorError(f"{name}: names {uri}, outside the vendor's {upstream_url}; not bundled")
    return found


def _release_indexes(release: str, source: AptSource, deb_arch: str) -> dict[str, tuple[str, int]]:
    """The Packages indexes of the architecture (every compression the Release lists): path below
    the release directory -> (sha256, size)."""
    stanza = control_stanzas(release)[0]
    wanted = [f"{component}/binary-{deb_arch}/Packages" for component in source.components] or ["Packages"]
    indexes = {}
    for line in stanza.get("SHA256", "").splitlines():
        parts = line.split()
        if len(parts) == 3 and any(parts[2] == w or parts[2].startswith(w + ".") for w in wanted):
            indexes[parts[2]] = (parts[0], int(parts[1]))
    return indexes


def apt_metadata(repo: VendorRepo, source: AptSource, keyring: bytes, fetch: Fetcher,
                 ) -> tuple[dict[str, bytes], list[dict[str, str]]]:
    """One apt repository's signed metadata, verified: the files to copy (below its release
    directory) and its Packages stanzas, each with the repository's path under "_path"."""
    base = f"{repo.base_url}/{source.release_dir}"
    inrelease = fetch.get(f"{base}/InRelease", missing_ok=True)
    if inrelease is not None:
        release = gpgv(keyring, inrelease, None, f"{base}/InRelease").decode()
        files = {"InRelease": inrelease}
    else:
        plain, signature = fetch.get(f"{base}/Release"), fetch.get(f"{base}/Release.gpg")
        gpgv(keyring, plain, signature, f"{base}/Release")
        release = plain.decode()
        files = {"Release": plain, "Release.gpg": signature}
    indexes = _release_indexes(release, source, repo.deb_arch)
    if not indexes:
        raise MirrorError(f"{base}: its Release lists no Packages index for {repo.deb_arch}; not bundled")
    stanzas: list[dict[str, str]] = []
    parsed: set[str] = set()
    for name, (sha256, size) in sorted(indexes.items()):
        data = fetch.get(f"{base}/{name}", missing_ok=True)
        if data is None:
            continue  # a compression the Release lists but the server does not have: apt tries another
        if hashlib.sha256(data).hexdigest() != sha256 or len(data) != size:
            raise MirrorError(f"{base}/{name}: its sha256 is not the one the signed Release gives; not bundled")
        files[name] = data
        suffix = PurePosixPath(name).suffix
        plain_name = name[:-len(suffix)] if suffix in DECOMPRESS and suffix else name
        if plain_name not in parsed:
            parsed.add(plain_name)
            text = DECOMPRESS[suffix if suffix in DECOMPRESS else ""](data).decode()
            stanzas += [{**stanza, "_path": source.path} for stanza in control_stanzas(text)]
    if not parsed:
        raise MirrorError(f"{base}: none of its Packages indexes could be fetched; not bundled")
    return files, stanzas


def mirror_apt(repo: VendorRepo, sources: list[AptSource], keyring: bytes, out: Path, fetch: Fetcher,
               result: MirrorResult) -> dict[str, str]:
    """Mirror the apt repositories' signed metadata and the closure of the repo's pins across them.
    Returns name -> version of what it bundled (pins none of them holds are left to the caller)."""
    stanzas = []
    for source in sources:
        files, found = apt_metadata(repo, source, keyring, fetch)
        stanzas += found
        for file_name, data in files.items():
            _write(out, out / APT / repo.repo_id / source.release_dir / file_name, data, result)
    chosen = _apt_closure(repo, stanzas, repo.packages, result)
    for stanza in chosen:
        relative = f"{stanza['_path']}/{stanza['Filename'].removeprefix('./')}"
        dest = out / APT / repo.repo_id / relative
        fetch.download(f"{repo.base_url}/{relative}", dest, stanza["SHA256"],
                       int(stanza["Size"]) if "Size" in stanza else None)
        result.written.append(str(dest.relative_to(out)))
        result.packages.append(f"{stanza['Package']}={stanza['Version']}")
    return {stanza["Package"]: stanza["Version"] for stanza in chosen}


def _apt_closure(repo: VendorRepo, stanzas: list[dict[str, str]], pins, result: MirrorResult) -> list[dict]:
    arches = (repo.deb_arch, "all")
    by_name: dict[str, list[dict]] = {}
    provided: dict[str, list[tuple[dict, str | None]]] = {}
    for stanza in stanzas:
        if stanza.get("Architecture") not in arches or "Filename" not in stanza:
            continue
        by_name.setdefault(stanza["Package"], []).append(stanza)
        for clause in parse_relations(stanza.get("Provides", "")):
            for name, _, version in clause:
                provided.setdefault(name, []).append((stanza, version))
    chosen: dict[tuple[str, str], dict] = {}
    todo: list[dict] = []

    def add(stanza: dict) -> None:
        key = (stanza["Package"], stanza["Version"])
        if key not in chosen:
            chosen[key] = stanza
            todo.append(stanza)

    version_of = (lambda s: s["Version"])  # noqa: E731
    for best in _pinned_packages(pins, by_name, version_of, deb_version_compare, repo):
        add(best)
    while todo:
        stanza = todo.pop()
        for field_name in ("Pre-Depends", "Depends"):
            for clause in parse_relations(stanza.get(field_name, "")):
                if any(_apt_chosen_satisfies(chosen, name, relation, version) for name, relation, version in clause):
                    continue
                for name, relation, version in clause:
                    candidates = [s for s in by_name.get(name, []) if _deb_satisfies(s["Version"], relation, version)]
                    candidates += [s for s, given in provided.get(name, [])
                                   if relation is None or (given and _deb_satisfies(given, relation, version))]
                    best = _pinned_choice(candidates, version_of, deb_version_compare, name, repo, None)
                    if best is not None:
                        add(best)
                        break
                else:
                    result.from_distribution.add(" | ".join(name for name, _, _ in clause))
    return sorted(chosen.values(), key=lambda s: (s["Package"], s["Version"]))


def _apt_chosen_satisfies(chosen: dict, name: str, relation: str | None, version: str | None) -> bool:
    for (package, have), stanza in chosen.items():
        if package == name and _deb_satisfies(have, relation, version):
            return True
        for clause in parse_relations(stanza.get("Provides", "")):
            for provided, _, given in clause:
                if provided == name and (relation is None or (given and _deb_satisfies(given, relation, version))):
                    return True
    return False


# ---- rpm versions and dnf ----


def rpm_version_compare(a: str, b: str) -> int:
    """rpmvercmp: -1, 0 or 1 (tilde sorts before anything, caret after the base)."""
    if a == b:
        return 0
    sa, sb = re.findall(r"~|\^|\d+|[a-zA-Z]+", a), re.findall(r"~|\^|\d+|[a-zA-Z]+", b)
    for x, y in zip(sa, sb, strict=False):
        if x == y:
            continue
        if "~" in (x, y):
            return -1 if x == "~" else 1
        if "^" in (x, y):
            return 1 if x == "^" else -1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            return -1 if int(x) < int(y) else 1 if int(x) > int(y) else 0
        return -1 if x < y else 1
    longer_a, longer_b = sa[len(sb):], sb[len(sa):]
    if longer_a:
        return -1 if longer_a[0] == "~" else 1
    if longer_b:
        return 1 if longer_b[0] == "~" else -1
    return 0


def evr_compare(a: tuple[str, str, str], b: tuple[str, str, str]) -> int:
    if int(a[0] or 0) != int(b[0] or 0):
        return -1 if int(a[0] or 0) < int(b[0] or 0) else 1
    return rpm_version_compare(a[1], b[1]) or rpm_version_compare(a[2], b[2])


NS = {"common": "http://linux.duke.edu/metadata/common", "rpm": "http://linux.duke.edu/metadata/rpm",
      "repo": "http://linux.duke.edu/metadata/repo"}


@dataclass
class RpmPackage:
    name: str
    arch: str
    evr: tuple[str, str, str]
    sha256: str
    location: str
    size: int | None
    requires: list[tuple[str, str | None, tuple[str, str, str] | None]]
    provides: list[tuple[str, tuple[str, str, str] | None]]
    files: list[str]
    path: str = ""  # the repository (below the vendor's base) it is in

    @property
    def version(self) -> str:
        return f"{self.evr[1]}-{self.evr[2]}"


def _entries(package, kind: str) -> list[tuple[str, str | None, tuple[str, str, str] | None]]:
    found = []
    for entry in package.findall(f"common:format/rpm:{kind}/rpm:entry", NS):
        evr = (entry.get("epoch", "0"), entry.get("ver"), entry.get("rel") or "") if entry.get("ver") else None
        found.append((entry.get("name"), entry.get("flags"), evr))
    return found


def primary_packages(xml: bytes) -> list[RpmPackage]:
    packages = []
    for package in ET.fromstring(xml).findall("common:package", NS):
        if package.get("type") != "rpm":
            continue
        checksum = package.find("common:checksum", NS)
        version = package.find("common:version", NS)
        size = package.find("common:size", NS)
        if checksum is None or checksum.get("type") != "sha256":
            continue  # only sha256 is checked; another sum is not a package the bundle can vouch for
        packages.append(RpmPackage(
            name=package.findtext("common:name", namespaces=NS), arch=package.findtext("common:arch", namespaces=NS),
            evr=(version.get("epoch", "0"), version.get("ver"), version.get("rel")), sha256=checksum.text.strip(),
            location=package.find("common:location", NS).get("href"),
            size=int(size.get("package")) if size is not None and size.get("package") else None,
            requires=_entries(package, "requires"),
            provides=[(name, evr) for name, _, evr in _entries(package, "provides")],
            files=[each.text for each in package.findall("common:format/common:file", NS)]))
    return packages


def _rpm_satisfies(have: tuple[str, str, str] | None, flags: str | None, want: tuple[str, str, str] | None) -> bool:
    if flags is None or want is None:
        return True
    if have is None:
        return True  # an unversioned provide satisfies any version (rpm's rule)
    if not want[2]:
        have = (have[0], have[1], "")
    order = evr_compare(have, want)
    return {"EQ": order == 0, "GE": order >= 0, "GT": order > 0, "LE": order <= 0, "LT": order < 0}[flags]


def dnf_metadata(repo: VendorRepo, path: str, key: bytes | None, fetch: Fetcher,
                 ) -> tuple[dict[str, bytes], list[RpmPackage]]:
    """One dnf repository's metadata at `path`, verified: repomd.xml (with the vendor's key where
    the vendor signs it) and every file it lists (against its sums); and its packages."""
    base = f"{repo.base_url}/{path}"
    repomd = fetch.get(f"{base}/repodata/repomd.xml")
    signature = fetch.get(f"{base}/repodata/repomd.xml.asc", missing_ok=True)
    if signature is not None:
        if key is None:
            raise MirrorError(f"{base}/repodata/repomd.xml.asc: no vendor key to verify it with; not bundled")
        gpgv(binary_keyring(key), repomd, signature, f"{base}/repodata/repomd.xml")
    files = {"repodata/repomd.xml": repomd, **({"repodata/repomd.xml.asc": signature} if signature else {})}
    primary = None
    for data in ET.fromstring(repomd).findall("repo:data", NS):
        location = data.find("repo:location", NS).get("href")
        checksum = data.find("repo:checksum", NS)
        if checksum is None or checksum.get("type") != "sha256":
            raise MirrorError(f"{base}/{location}: repomd.xml gives no sha256 of it; not bundled")
        body = fetch.get(f"{base}/{location}")
        if hashlib.sha256(body).hexdigest() != checksum.text.strip():
            raise MirrorError(f"{base}/{location}: its sha256 is not the one repomd.xml gives; not bundled")
        files[location] = body
        if data.get("type") == "primary":
            suffix = PurePosixPath(location).suffix
            primary = DECOMPRESS[suffix if suffix in DECOMPRESS else ""](body)
    if primary is None:
        raise MirrorError(f"{base}/repodata/repomd.xml: lists no primary metadata; not bundled")
    packages = primary_packages(primary)
    for package in packages:
        package.path = path
    return files, packages


def mirror_dnf(repo: VendorRepo, paths: list[str], key: bytes | None, out: Path, fetch: Fetcher,
               result: MirrorResult) -> dict[str, str]:
    """Mirror the dnf repositories' metadata and the closure of the repo's pins across them.
    Returns name -> version bundled."""
    packages = []
    for path in paths:
        files, found = dnf_metadata(repo, path, key, fetch)
        packages += found
        for name, data in files.items():
            _write(out, out / DNF / repo.repo_id / path / name, data, result)
    chosen = _dnf_closure(repo, packages, repo.packages, result)
    for package in chosen:
        relative = f"{package.path}/{package.location}"
        dest = out / DNF / repo.repo_id / relative
        fetch.download(f"{repo.base_url}/{relative}", dest, package.sha256, package.size)
        result.written.append(str(dest.relative_to(out)))
        result.packages.append(f"{package.name}={package.version}")
    return {package.name: package.version for package in chosen}


def _dnf_closure(repo: VendorRepo, packages: list[RpmPackage], pins, result: MirrorResult) -> list[RpmPackage]:
    arches = {"x86_64": ("x86_64", "noarch"), "aarch64": ("aarch64", "noarch")}[repo.arch]
    packages = [p for p in packages if p.arch in arches]
    by_name: dict[str, list[RpmPackage]] = {}
    providers: dict[str, list[tuple[RpmPackage, tuple | None]]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)
        for name, evr in package.provides:
            providers.setdefault(name, []).append((package, evr))
        for path in package.files:
            providers.setdefault(path, []).append((package, None))
    chosen: dict[tuple[str, str, str], RpmPackage] = {}
    todo: list[RpmPackage] = []

    def add(package: RpmPackage) -> None:
        key = (package.name, package.arch, package.version)
        if key not in chosen:
            chosen[key] = package
            todo.append(package)

    def compare(a: str, b: str) -> int:
        return evr_compare(("0", *a.rsplit("-", 1)), ("0", *b.rsplit("-", 1)))

    version_of = (lambda p: p.version)  # noqa: E731
    for best in _pinned_packages(pins, by_name, version_of, compare, repo):
        add(best)
    while todo:
        package = todo.pop()
        for name, flags, want in package.requires:
            if name.startswith(("rpmlib(", "(")):
                if name.startswith("("):
                    result.from_distribution.add(name)
                continue
            candidates = [p for p, evr in providers.get(name, []) if _rpm_satisfies(evr, flags, want)]
            if any(p in chosen.values() for p in candidates):
                continue
            best = _pinned_choice(candidates, version_of, compare, name, repo, None)
            if best is None:
                result.from_distribution.add(name)
            else:
                add(best)
    return sorted(chosen.values(), key=lambda p: (p.name, p.version))


def rpm_repo_files(files: dict[str, bytes], upstream_url: str, arch: str) -> list[str]:
    """The repositories (paths below the vendor's base) an installer package's .repo files name."""
    paths = []
    for name, data in sorted(files.items()):
        if not re.match(r"etc/yum\.repos\.d/.*\.repo$", name):
            continue
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(data.decode())
        for section in parser.sections():
            url = parser[section].get("baseurl", "").split()[0].replace("$basearch", arch).rstrip("/")
            if not url:
                continue
            if not url.startswith(upstream_url.rstrip("/") + "/"):
                raise MirrorError(f"{name}: names {url}, outside the vendor's {upstream_url}; not bundled")
            paths.append(url[len(upstream_url.rstrip("/")) + 1:])
    return paths


def rpm_members(rpm: bytes) -> dict[str, bytes]:
    """The files of an rpm, through rpm2cpio and cpio (the bundling machine's)."""
    if shutil.which("rpm2cpio") is None or shutil.which("cpio") is None:
        raise MirrorError("rpm2cpio and cpio are needed to read AMD's RPM installer; install them "
                          "(Debian: apt-get install rpm2cpio cpio)")
    with tempfile.TemporaryDirectory() as work:
        archive = subprocess.run(["rpm2cpio", "-"], input=rpm, capture_output=True, check=True).stdout
        subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames"], input=archive, cwd=work,
                       capture_output=True, check=True)
        return {str(p.relative_to(work)): p.read_bytes() for p in Path(work).rglob("*") if p.is_file()}


# ---- one vendor repository entry ----


def _write(out: Path, dest: Path, data: bytes, result: MirrorResult) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    result.written.append(str(dest.relative_to(out)))


def mirror_repo(repo: VendorRepo, out: Path, fetch: Fetcher, upstream_url: str) -> MirrorResult:
    """Write one VendorRepo's partial mirror under out (OUT/<kind>/<repo id>/...)."""
    result = MirrorResult()
    root = out / repo.kind / repo.repo_id
    plain: dict[str, bytes] = {}
    for relative in repo.files:
        data = fetch.get(f"{repo.base_url}/{relative}")
        plain[relative] = data
    if repo.vendor == "nvidia" and repo.kind == APT:
        (keyring_deb,) = repo.files
        members = deb_members(plain[keyring_deb])
        keys = {name: data for name, data in members.items() if name.endswith((".gpg", ".asc", ".key"))}
        if not keys:
            raise MirrorError(f"{repo.base_url}/{keyring_deb}: ships no key; not bundled")
        for name, data in keys.items():
            require_fingerprint(data, repo.key_fingerprint, f"{repo.base_url}/{keyring_deb} ({name})")
        keyring = binary_keyring(next(iter(keys.values())))
        sources = [AptSource(repo.path, "/")]
    elif repo.vendor == "nvidia":
        (key_file,) = repo.files
        if key_sum_without_version(plain[key_file]) != repo.key_sha256:
            raise MirrorError(f"{repo.base_url}/{key_file}: not the key NVIDIA publishes the sum "
                              f"{repo.key_sha256} of; not bundled")
        keyring, sources = plain[key_file], []
    else:
        installer, key_path = repo.files
        require_fingerprint(plain[key_path], repo.key_fingerprint, f"{repo.base_url}/{key_path}")
        keyring = binary_keyring(plain[key_path]) if repo.kind == APT else plain[key_path]
        if repo.kind == APT:
            members = deb_members(plain[installer])
            for name, data in members.items():
                if name.endswith((".gpg", ".asc", ".key")):
                    require_fingerprint(data, repo.key_fingerprint, f"{repo.base_url}/{installer} ({name})")
            sources = apt_sources_of(members, repo.base_url, upstream_url)
            if not sources:
                raise MirrorError(f"{repo.base_url}/{installer}: ships no apt sources (etc/apt/sources.list.d), so "
                                  "the repositories it installs from are unknown; not bundled")
        else:
            sources = []
    for relative, data in plain.items():
        _write(out, root / relative, data, result)
    if repo.kind == APT:
        bundled = mirror_apt(repo, sources, keyring, out, fetch, result)
    elif repo.vendor == "nvidia":
        bundled = mirror_dnf(repo, [repo.path], keyring, out, fetch, result)
    else:
        paths = rpm_repo_files(rpm_members(plain[repo.files[0]]), upstream_url, repo.arch)
        if not paths:
            raise MirrorError(f"{repo.base_url}/{repo.files[0]}: ships no .repo files (etc/yum.repos.d), so the "
                              "repositories it installs from are unknown; not bundled")
        bundled = mirror_dnf(repo, paths, keyring, out, fetch, result)
    for pin in repo.packages:
        if pin.name in bundled:
            continue
        if pin.version is not None:
            raise _missing(repo, pin)
        result.from_distribution.add(pin.name)  # python3-setuptools, infiniband-diags: the distribution's
    if not bundled:
        raise _missing(repo, repo.packages[0])  # none of them: not the vendor's repository at all
    return result
