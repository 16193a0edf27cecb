"""Plan test: however many files a host takes from a bundle (an engine's wheels, a GPU host's apt
closure), no command the deploy runs outgrows one argument: the fetch-and-check script is uploaded
and run from the host, not passed on a command line (bash -c failed with "Argument list too long"
on lab nodes at 256 files)."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fakehost import HOST, record_uploads, run_deploy  # first: pyinfra's CLI patches threads and sockets (gevent)
from plan_data import PLAN_DATA

from glmstack.bundle import HostNeeds, write_manifest

FACTS = Path(__file__).resolve().parent / "facts"
MAX_ARG_STRLEN = 32 * 4096  # Linux: the most one argument (the script given to bash -c) may hold
FILES = 3000


@pytest.fixture
def bundle_url(tmp_path):
    """A bundle's manifest only, served on loopback: the host would fetch each file itself."""
    files = {f"apt/big/pool/main/p/package-{index:04d}/package-{index:04d}_1.0-1_amd64.deb":
             {"sha256": f"{index:064x}", "size": 1} for index in range(FILES)}
    write_manifest(tmp_path, "inventory.py", {HOST: HostNeeds(apt_repos=["big"])},
                   extra={"apt_release": "bookworm"}, files=files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def test_a_bundle_of_thousands_of_files_is_fetched_by_a_script_on_the_host(bundle_url, monkeypatch):
    url, files = bundle_url
    uploads = record_uploads(monkeypatch)
    responses = json.loads((FACTS / "debian12-fresh.json").read_text())["responses"]
    run = run_deploy({**PLAN_DATA, "bundle": url}, responses)
    assert max(len(command.encode()) for command in run.commands) < MAX_ARG_STRLEN
    script = uploads["/opt/glmstack/bundle/.fetch.sh"]
    assert len(script.encode()) > MAX_ARG_STRLEN  # would not have fit
    assert all(f"{url}/{path}" in script and f"{entry['sha256']}  {path}" in script for path, entry in files.items())
    run.assert_in_order(["bash /opt/glmstack/bundle/.fetch.sh", "rm -f /opt/glmstack/bundle/.fetch.sh"])
