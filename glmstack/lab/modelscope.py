"""A ModelScope-compatible endpoint for the lab, so the real `modelscope` client runs on the nodes
(MODELSCOPE_ENDPOINT pointing here) against repositories made of local files.

It answers what `modelscope download ORG/NAME --revision COMMIT --local-dir DIR` asks: the
repository's file list at a commit (each file with its sha256, as ModelScope lists it) and each
file, with byte ranges for resumed downloads. The repositories are the hub endpoint's (every
`root/ORG/NAME/` directory, its commit derived from the files' sums). A token, when set, is
required as ModelScope requires one for a private repository.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from glmstack.lab.hub import HubRepo, scan_repositories
from glmstack.lab.network import GATEWAY
from glmstack.lab.serve import _MirrorHandler, serving

FILES = re.compile(r"^/api/v1/models/([\w.-]+/[\w.-]+)/repo/files$")
FILE = re.compile(r"^/api/v1/models/([\w.-]+/[\w.-]+)/repo$")
INFO = re.compile(r"^/api/v1/models/([\w.-]+/[\w.-]+)$")


class _ModelScopeHandler(_MirrorHandler):
    repos: dict[str, HubRepo] = {}
    token: str | None = None
    requests: list | None = None  # when given, (method, path, whether the token came) per request

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(send_body=False)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        url = urlparse(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        authorized = self.headers.get("Authorization") == f"Bearer {self.token}"
        if self.requests is not None:
            self.requests.append((self.command, self.path, authorized))
        if match := FILES.match(url.path):
            return self._files(match.group(1), query, authorized)
        if match := FILE.match(url.path):
            return self._file(match.group(1), query, authorized, send_body)
        if match := INFO.match(url.path):
            return self._info(match.group(1), authorized)
        self._reply(None, HTTPStatus.NOT_FOUND, f"{url.path} is not a ModelScope route this lab endpoint answers")

    def _repo(self, repo_id: str, revision: str, authorized: bool) -> HubRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None or (self.token and not authorized):
            # As ModelScope: a private repository is not found for whoever may not read it.
            self._reply(None, HTTPStatus.NOT_FOUND, f"model {repo_id} not found")
            return None
        if revision not in (repo.commit, "master"):
            self._reply(None, HTTPStatus.NOT_FOUND, f"revision {revision} of {repo_id} not found")
            return None
        return repo

    def _info(self, repo_id: str, authorized: bool) -> None:
        if repo := self._repo(repo_id, "master", authorized):
            owner, name = repo_id.split("/")
            self._reply({"Path": owner, "Name": name, "Id": repo_id, "Revision": repo.commit})

    def _files(self, repo_id: str, query: dict, authorized: bool) -> None:
        repo = self._repo(repo_id, query.get("Revision", "master"), authorized)
        if repo is None:
            return
        root = query.get("Root", "").strip("/")
        entries = [{"Name": name.rsplit("/", 1)[-1], "Path": name, "Type": "blob", "Size": f.size,
                    "Sha256": f.sha256, "IsLFS": f.lfs, "Revision": repo.commit}
                   for name, f in repo.files.items() if not root or name.startswith(root + "/")]
        self._reply({"Files": entries})

    def _file(self, repo_id: str, query: dict, authorized: bool, send_body: bool) -> None:
        repo = self._repo(repo_id, query.get("Revision", "master"), authorized)
        if repo is None:
            return
        name = query.get("FilePath", "").lstrip("/")
        entry = repo.files.get(name)
        if entry is None:
            return self._reply(None, HTTPStatus.NOT_FOUND, f"file {name} not found in {repo_id}")
        answer = self._file_headers(entry.size, {"Content-Type": "application/octet-stream"}, ranges=send_body)
        if answer is not None and send_body:
            self._send(repo.directory / name, *answer)

    def _reply(self, data, status: HTTPStatus = HTTPStatus.OK, message: str = "success") -> None:
        """ModelScope's envelope around every API answer."""
        body = json.dumps({"Code": status.value, "Data": data, "Message": message, "RequestId": str(uuid.uuid4()),
                           "Success": status == HTTPStatus.OK}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextmanager
def serve_modelscope(root: Path, address: str = GATEWAY, port: int = 0, token: str | None = None,
                     rate: int | None = None, stats: dict | None = None,
                     requests: list | None = None) -> Iterator[tuple[str, dict[str, HubRepo]]]:
    """Yield the endpoint's URL and its repositories (with their commits) while it serves."""
    repos = scan_repositories(root)
    handler = type("Handler", (_ModelScopeHandler,), {"repos": repos, "token": token, "rate": rate, "stats": stats,
                                                       "requests": requests})
    with serving(handler, address, port) as url:
        yield url, repos
