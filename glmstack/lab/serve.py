"""Serve a directory to the lab nodes over HTTP, bound to the lab's own bridge address only.

Like a real mirror it answers byte-range requests, so interrupted downloads can resume; it can be
slowed down (bytes per second) so a test can interrupt a transfer half-way.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from glmstack.lab.network import GATEWAY

CHUNK = 64 * 1024
_STATS_LOCK = threading.Lock()
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class Uplink:
    """One link's bandwidth shared by every transfer through it (bytes per second): what the lab's
    mirror stands in for is usually the internet, through one uplink for the whole lab."""

    def __init__(self, rate: int):
        self.rate = rate
        self._lock = threading.Lock()
        self._free_at = time.monotonic()

    def send(self, size: int) -> None:
        with self._lock:
            start = max(self._free_at, time.monotonic())
            self._free_at = start + size / self.rate
        time.sleep(max(0.0, self._free_at - time.monotonic()))


class _MirrorHandler(SimpleHTTPRequestHandler):
    rate: int | None = None  # bytes per second per transfer; None: as fast as it goes
    uplink: Uplink | None = None  # bandwidth all transfers share
    stats: dict | None = None  # when given, counts the bytes sent under "bytes_sent"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return super().do_GET()
        answer = self._file_headers(path.stat().st_size)
        if answer:
            self._send(path, *answer)

    def _file_headers(self, size: int, headers: dict[str, str] | None = None,
                      ranges: bool = True) -> tuple[int, int] | None:
        """Answer with a file's status and headers, the one byte range asked for when `ranges`;
        return the (offset, length) of the body to send, None when the range cannot be served."""
        start, end = 0, size - 1
        match = RANGE.match(self.headers.get("Range", "")) if ranges else None
        if match:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else size - 1
            if start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return None
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(HTTPStatus.OK)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return start, end - start + 1

    def _send(self, path: Path, offset: int, length: int) -> None:
        with open(path, "rb") as handle:
            handle.seek(offset)
            while length > 0:
                block = handle.read(min(CHUNK, length))
                if not block:
                    return
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return
                length -= len(block)
                if self.stats is not None:
                    with _STATS_LOCK:
                        self.stats["bytes_sent"] = self.stats.get("bytes_sent", 0) + len(block)
                if self.rate:
                    time.sleep(len(block) / self.rate)
                if self.uplink:
                    self.uplink.send(len(block))


@contextmanager
def serve_directory(directory: Path, address: str = GATEWAY, port: int = 0, rate: int | None = None,
                    stats: dict | None = None, uplink: int | None = None) -> Iterator[str]:
    """Yield the base URL of an HTTP server for `directory`; it stops when the block ends."""
    handler_class = type("Handler", (_MirrorHandler,), {"rate": rate, "stats": stats,
                                                        "uplink": Uplink(uplink) if uplink else None})
    with serving(functools.partial(handler_class, directory=os.fspath(directory)), address, port) as url:
        yield url


@contextmanager
def serving(handler, address: str, port: int) -> Iterator[str]:
    """Yield the base URL of a threaded HTTP server answering with `handler`, until the block ends."""
    server = ThreadingHTTPServer((address, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
