"""Serve a directory to the lab nodes over HTTP, bound to the lab's own bridge address only."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from glmstack.lab.network import GATEWAY


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass


@contextmanager
def serve_directory(directory: Path, address: str = GATEWAY, port: int = 0) -> Iterator[str]:
    """Yield the base URL of an HTTP server for `directory`; it stops when the block ends."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer((address, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
