"""A Hugging Face Hub-compatible endpoint for the lab, so the real `hf` client runs on the nodes
(HF_ENDPOINT pointing here) against repositories made of local files.

It answers what `hf download REPO --revision COMMIT` asks: the repository tree at a commit (with
each LFS file's sha256, as the Hub gives it) and each file, with byte ranges for resumed
downloads. Every file of `root/ORG/NAME/` is one repository's file; the commit id is derived from
the files' sums, so changing a byte makes a new commit. A token, when set, is required as the Hub
requires one for a gated repository.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlparse

from glmstack.digests import sha256_of
from glmstack.lab.network import GATEWAY
from glmstack.lab.serve import _MirrorHandler, serving

# Files the Hub keeps in LFS (so their tree entry carries a sha256): weights and anything large.
LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt")
LFS_MIN_SIZE = 10 * 1024 * 1024
TREE = re.compile(r"^/api/models/([\w.-]+/[\w.-]+)/tree/([\w.-]+)(/.*)?$")
REVISION = re.compile(r"^/api/models/([\w.-]+/[\w.-]+)(?:/revision/([\w.-]+))?$")
RESOLVE = re.compile(r"^/([\w.-]+/[\w.-]+)/resolve/([\w.-]+)/(.+)$")


def git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str
    blob_id: str  # for LFS files, the sha1 of the pointer file, as on the Hub
    lfs: bool

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.blob_id

    def tree_entry(self) -> dict:
        entry = {"type": "file", "oid": self.blob_id, "size": self.size, "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": 134}
        return entry


@dataclass(frozen=True)
class HubRepo:
    repo_id: str
    directory: Path
    commit: str
    files: dict[str, HubFile]

    @classmethod
    def scan(cls, repo_id: str, directory: Path) -> HubRepo:
        files = {}
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            name = path.relative_to(directory).as_posix()
            size = path.stat().st_size
            lfs = name.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE
            sha256 = sha256_of(path)
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
            blob_id = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest() if lfs else git_blob_sha1(path)
            files[name] = HubFile(name, size, sha256, blob_id, lfs)
        commit = hashlib.sha1("".join(f"{f.path}\0{f.sha256}\n" for f in files.values()).encode()).hexdigest()
        return cls(repo_id, directory, commit, files)


def scan_repositories(root: Path) -> dict[str, HubRepo]:
    """Every ORG/NAME directory under root is a repository."""
    return {f"{org.name}/{repo.name}": HubRepo.scan(f"{org.name}/{repo.name}", repo)
            for org in sorted(root.iterdir()) if org.is_dir()
            for repo in sorted(org.iterdir()) if repo.is_dir()}


class _HubHandler(_MirrorHandler):
    repos: dict[str, HubRepo] = {}
    token: str | None = None
    requests: list | None = None  # when given, (method, path, whether the token came) per request
    corrupt_once: set = set()  # files whose next download arrives with one byte wrong

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(send_body=False)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        path = unquote(urlparse(self.path).path)
        authorized = self.headers.get("Authorization") == f"Bearer {self.token}"
        if self.requests is not None:
            self.requests.append((self.command, path, authorized))
        if self.token and not authorized:
            return self._json({"error": "Access to this repository is restricted."}, HTTPStatus.UNAUTHORIZED)
        if match := TREE.match(path):
            return self._tree(*match.groups())
        if match := REVISION.match(path):
            return self._revision(*match.groups())
        if match := RESOLVE.match(path):
            return self._resolve(*match.groups(), send_body=send_body)
        self._json({"error": f"{path} is not a Hub route this lab endpoint answers"}, HTTPStatus.NOT_FOUND)

    def _repo(self, repo_id: str, revision: str) -> HubRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._json({"error": "Repository not found"}, HTTPStatus.NOT_FOUND, {"X-Error-Code": "RepoNotFound"})
            return None
        if revision not in (repo.commit, "main"):
            self._json({"error": f"Invalid rev id: {revision}"}, HTTPStatus.NOT_FOUND,
                       {"X-Error-Code": "RevisionNotFound"})
            return None
        return repo

    def _revision(self, repo_id: str, revision: str | None) -> None:
        if repo := self._repo(repo_id, revision or "main"):
            self._json({"id": repo_id, "sha": repo.commit, "siblings": [{"rfilename": f} for f in repo.files]})

    def _tree(self, repo_id: str, revision: str, subpath: str | None) -> None:
        if repo := self._repo(repo_id, revision):
            prefix = (subpath or "").strip("/")
            entries = [f.tree_entry() for name, f in repo.files.items() if not prefix or name.startswith(prefix + "/")]
            self._json(entries)

    def _resolve(self, repo_id: str, revision: str, name: str, send_body: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        hub_file = repo.files.get(name)
        if hub_file is None:
            return self._json({"error": "Entry not found"}, HTTPStatus.NOT_FOUND, {"X-Error-Code": "EntryNotFound"})
        answer = self._file_headers(hub_file.size, {"X-Repo-Commit": repo.commit, "ETag": f'"{hub_file.etag}"'},
                                    ranges=send_body)
        if answer is None or not send_body:
            return
        start, length = answer
        if name in self.corrupt_once:
            # A transfer mangled on the way: one byte flipped, the length right.
            self.corrupt_once.discard(name)
            with open(repo.directory / name, "rb") as handle:
                handle.seek(start)
                self.wfile.write(bytes([handle.read(1)[0] ^ 0xFF]))
            self._send(repo.directory / name, start + 1, length - 1)
        else:
            self._send(repo.directory / name, start, length)

    def _json(self, body, status: HTTPStatus = HTTPStatus.OK, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


@contextmanager
def serve_hub(root: Path, address: str = GATEWAY, port: int = 0, token: str | None = None,
              rate: int | None = None, stats: dict | None = None, requests: list | None = None,
              corrupt_once: set[str] = frozenset()) -> Iterator[tuple[str, dict[str, HubRepo]]]:
    """Yield the endpoint's URL and its repositories (with their commits) while it serves."""
    repos = scan_repositories(root)
    handler = type("Handler", (_HubHandler,), {"repos": repos, "token": token, "rate": rate, "stats": stats,
                                                "requests": requests, "corrupt_once": set(corrupt_once)})
    with serving(handler, address, port) as url:
        yield url, repos
