"""Two replica gateways on loopback: HAProxy 2.6 processes rendered from roles/gateway's
haproxy.cfg.j2 (TLS and the chroot/user lines taken out: plain HTTP, own process) and two fake
engines (python http.server) that restart like llama-server. Used by test_gateway_loopback.py; run it
as a script to print counts: `python tests/unit/gateway_loopback.py CASE [REPLACEMENT-FOR-BUFFER-LINE]`
(THROUGH=a: through the restarted replica's own gateway)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from roles.gateway.plan import GatewayPeer, GatewayPlan
from roles.gateway.render import render

HEALTH = "/health"


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class _QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a connection the gateway reset (the 'closing' engine): expected


class FakeEngine:
    """/health and /v1/chat/completions on address:port. state: 'up', 'loading' (503 Loading
    model, as llama-server before its model is loaded), 'closing' (accepts, then closes), 'down'
    (not listening: connections refused)."""

    def __init__(self, address: str, port: int):
        self.address, self.port, self.state = address, port, "down"
        self.server: ThreadingHTTPServer | None = None

    def handler(engine):  # noqa: N805 -- the class closes over the engine
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if engine.state == "closing":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if engine.state == "loading":
                    status, body = 503, {"error": {"code": 503, "message": "Loading model"}}
                else:
                    status, body = 200, ({"status": "ok"} if self.path == HEALTH else
                                         {"choices": [{"message": {"content": engine.address}}]})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        return Handler

    def start(self, state: str = "up") -> None:
        self.state = state
        self.server = _QuietServer((self.address, self.port), self.handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.state = "down"


@dataclass
class Replica:
    name: str
    address: str  # 127.0.0.x: this replica's gateway and engine
    port: int
    peer_port: int
    engine_port: int
    workdir: Path
    engine: FakeEngine = field(init=False)
    process: subprocess.Popen | None = None

    def __post_init__(self):
        self.engine = FakeEngine(self.address, self.engine_port)

    def config(self, peer: Replica) -> str:
        gateway = GatewayPlan(
            port=self.port, address=self.address, engine_address=self.address, engine_port=self.engine_port,
            peer_port=self.peer_port, health_path=HEALTH, tls_dir="/etc/glmstack/gateway",
            haproxy_config="/etc/haproxy/haproxy.cfg", acl_file="/etc/glmstack/gateway/api-keys.acl",
            key_file=None, timeout=60, group="loop", members=(self.name, peer.name),
            peers=(GatewayPeer(name=peer.name, address=peer.address, port=peer.peer_port),), host_name=self.name)
        text = render("haproxy.cfg.j2", g=gateway, v6=False)
        # Our own process: no chroot or user switch, plain HTTP, this replica's loopback address.
        text = re.sub(r"^\s*(chroot|user|group|ssl-default-bind-options) .*\n", "", text, flags=re.M)
        text = re.sub(r" ssl crt \S+", "", text)
        text = text.replace("0.0.0.0:", f"{self.address}:")
        return text

    def start_gateway(self, peer: Replica) -> None:
        cfg = self.workdir / f"{self.name}.cfg"
        text = self.config(peer)
        cfg.write_text(self.edit(text) if getattr(self, "edit", None) else text)
        self.process = subprocess.Popen(["haproxy", "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                                        stderr=open(self.workdir / f"{self.name}.log", "w"))

    def stop_gateway(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # only the process we started, by PID
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def haproxy_available() -> bool:
    return shutil.which("haproxy") is not None


def wait_for(predicate, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def get_status(url: str, data: bytes | None = None, timeout: float = 20) -> int | None:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


class Pair:
    """Replica a (restarted) and b (the gateway clients use)."""

    def __init__(self, workdir: Path, edit=None):
        self.a = Replica("a", "127.0.0.2", 0, 0, 0, workdir)
        self.b = Replica("b", "127.0.0.3", 0, 0, 0, workdir)
        for r in (self.a, self.b):
            r.port, r.peer_port, r.engine_port = (free_port(r.address) for _ in range(3))
            r.engine = FakeEngine(r.address, r.engine_port)
            r.edit = edit

    def __enter__(self):
        for r, peer in ((self.a, self.b), (self.b, self.a)):
            r.engine.start("up")
            r.start_gateway(peer)
        # Both gateways up and each sees its peer (rise 2, inter 1s).
        time.sleep(3.5)
        return self

    def __exit__(self, *exc):
        for r in (self.a, self.b):
            r.stop_gateway()
            r.engine.stop()

    def chat(self, replica: Replica) -> int | None:
        return get_status(f"http://{replica.address}:{replica.port}/v1/chat/completions",
                          b'{"messages":[{"role":"user","content":"hi"}],"max_tokens":1}')


def restart(engine: FakeEngine, case: str, down_s: float = 2.0, loading_s: float = 2.0) -> None:
    """Like `systemctl restart llama-server`: the old process stops (case 'refuse': the port closes at
    once; 'close': it accepts and closes for a moment first; 'hang' is not modelled), the new one
    listens again after down_s, answers 503 Loading model for loading_s, then serves."""
    if case == "close":
        engine.state = "closing"
        time.sleep(0.5)
    if case == "loading":
        down_s = 0.0
    engine.stop()
    time.sleep(down_s)
    engine.start("loading" if loading_s else "up")
    time.sleep(loading_s)
    engine.state = "up"


def run(case: str, workdir: Path | None = None, before_s: float = 1.0, edit=None,
        through: str = "b") -> dict:
    """Requests through b's gateway (or a's, the restarted replica's own) while a's engine
    restarts; their statuses counted."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gateway-loopback-"))
    workdir.mkdir(parents=True, exist_ok=True)
    statuses: list = []
    with Pair(workdir, edit) as pair:
        done = threading.Event()

        def loop():
            while not done.is_set():
                statuses.append((time.monotonic(), pair.chat(getattr(pair, through))))

        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(before_s)
        restart(pair.a.engine, case)
        time.sleep(1.0)
        done.set()
        for t in threads:
            t.join()
    failed = [s for _, s in statuses if s != 200]
    return {"case": case, "through": through, "requests": len(statuses), "failed": len(failed),
            "statuses": sorted(set(map(str, failed)))}


if __name__ == "__main__":
    edit = None
    if len(sys.argv) > 2:
        edit = lambda t: t.replace("option http-buffer-request", sys.argv[2])  # noqa: E731
    print(run(sys.argv[1], edit=edit, through=os.environ.get("THROUGH", "b")))
