"""Local signed vendor repositories for the mirror tests: a throwaway OpenPGP key in a temporary
GNUPGHOME, apt repositories (NVIDIA's flat shape, AMD's dists shape) made of real .debs
(dpkg-deb) indexed by dpkg-scanpackages with a clearsigned InRelease, and a dnf repository with a
hand-made primary.xml.gz, repomd.xml and its detached .asc (createrepo_c is not assumed here; the
.rpm files are stand-in bytes, checked by their sums). Served over HTTP on loopback."""

from __future__ import annotations

import atexit
import gzip
import hashlib
import http.server
import os
import subprocess
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path


@dataclass
class Signer:
    home: Path
    fingerprint: str

    def gpg(self, *args: str, data: bytes | None = None) -> bytes:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        return subprocess.run(["gpg", "--batch", "--yes", *args], input=data, env=env, capture_output=True,
                              check=True).stdout

    def armored(self) -> bytes:
        return self.gpg("--armor", "--export", self.fingerprint)

    def binary(self) -> bytes:
        return self.gpg("--export", self.fingerprint)

    def clearsign(self, text: bytes) -> bytes:
        return self.gpg("--local-user", self.fingerprint, "--clearsign", "--digest-algo", "SHA256", data=text)

    def detach(self, data: bytes) -> bytes:
        return self.gpg("--local-user", self.fingerprint, "--armor", "--detach-sign", data=data)


def make_signer(home: Path, name: str = "Test Vendor") -> Signer:
    home.mkdir(mode=0o700, parents=True)
    # gpg starts an agent for this home that outlives the test run: end exactly that one at exit.
    atexit.register(subprocess.run, ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <vendor@example.invalid>",
                    "ed25519", "sign", "never"], env=env, capture_output=True, check=True)
    listing = subprocess.run(["gpg", "--batch", "--list-keys", "--with-colons"], env=env, capture_output=True,
                             text=True, check=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    return Signer(home, fingerprint)


def build_deb(directory: Path, name: str, version: str, arch: str = "amd64", depends: str = "",
              files: dict[str, bytes] | None = None, provides: str = "") -> Path:
    root = directory / f"build-{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    control = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}", "Maintainer: t <t@example.invalid>",
               f"Description: stand-in {name}"]
    control += [f"Depends: {depends}"] if depends else []
    control += [f"Provides: {provides}"] if provides else []
    (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    for path, data in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    out = directory / f"{name}_{version}_{arch}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def release_text(files: dict[str, bytes], suite: str | None) -> bytes:
    lines = ["Origin: Test Vendor", "Label: Test Vendor", *([f"Suite: {suite}", f"Codename: {suite}"] if suite else []),
             "Architectures: amd64 all", "Date: Mon, 30 Nov 2026 00:00:00 UTC", "SHA256:"]
    lines += [f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}" for name, data in sorted(files.items())]
    return ("\n".join(lines) + "\n").encode()


def index_apt(root: Path, signer: Signer, release_dir: Path, scan_dir: str, packages_path: str,
              suite: str | None) -> None:
    """dpkg-scanpackages over root/scan_dir (Filename relative to root), Packages and Packages.gz at
    release_dir/packages_path, the Release's sums, and a clearsigned InRelease."""
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", scan_dir, "/dev/null"], cwd=root,
                              capture_output=True, check=True).stdout
    target = release_dir / packages_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(packages)
    target.with_name("Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    listed = {str((target.parent / n).relative_to(release_dir)): (target.parent / n).read_bytes()
              for n in ("Packages", "Packages.gz")}
    (release_dir / "InRelease").write_bytes(signer.clearsign(release_text(listed, suite)))


PRIMARY = "http://linux.duke.edu/metadata/common"


def rpm_entry(name: str, version: str, release: str, data: bytes, requires: tuple = (), provides: tuple = (),
              arch: str = "x86_64") -> str:
    def entries(kind: str, items: tuple) -> str:
        if not items:
            return ""
        rows = []
        for item in items:
            if isinstance(item, str):
                rows.append(f'<rpm:entry name="{item}"/>')
            else:
                req, flags, ver = item
                rows.append(f'<rpm:entry name="{req}" flags="{flags}" epoch="0" ver="{ver}"/>')
        return f"<rpm:{kind}>{''.join(rows)}</rpm:{kind}>"

    return (f'<package type="rpm"><name>{name}</name><arch>{arch}</arch>'
            f'<version epoch="0" ver="{version}" rel="{release}"/>'
            f'<checksum type="sha256" pkgid="YES">{hashlib.sha256(data).hexdigest()}</checksum>'
            f'<size package="{len(data)}"/><location href="Packages/{name}-{version}-{release}.{arch}.rpm"/>'
            f'<format>{entries("provides", provides)}{entries("requires", requires)}</format></package>')


def build_dnf(root: Path, signer: Signer, packages: list[tuple]) -> None:
    """packages: (name, version, release, requires, provides) each; the .rpm is stand-in bytes."""
    entries = []
    (root / "Packages").mkdir(parents=True, exist_ok=True)
    for name, version, release, requires, provides in packages:
        data = f"stand-in rpm {name}-{version}-{release}\n".encode()
        (root / "Packages" / f"{name}-{version}-{release}.x86_64.rpm").write_bytes(data)
        entries.append(rpm_entry(name, version, release, data, requires, provides))
    primary = (f'<?xml version="1.0" encoding="UTF-8"?><metadata xmlns="{PRIMARY}" '
               f'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{len(entries)}">'
               + "".join(entries) + "</metadata>").encode()
    compressed = gzip.compress(primary, mtime=0)
    name = f"repodata/{hashlib.sha256(compressed).hexdigest()}-primary.xml.gz"
    (root / "repodata").mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(compressed)
    repomd = (f'<?xml version="1.0" encoding="UTF-8"?><repomd xmlns="http://linux.duke.edu/metadata/repo" '
              f'xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>1</revision><data type="primary">'
              f'<checksum type="sha256">{hashlib.sha256(compressed).hexdigest()}</checksum>'
              f'<open-checksum type="sha256">{hashlib.sha256(primary).hexdigest()}</open-checksum>'
              f'<location href="{name}"/></data></repomd>').encode()
    (root / "repodata" / "repomd.xml").write_bytes(repomd)
    (root / "repodata" / "repomd.xml.asc").write_bytes(signer.detach(repomd))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(directory: Path):
    """An HTTP server on loopback serving directory; (base URL, server): shut it down after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server
