"""Lab nodes: Debian root filesystems booted by systemd-nspawn with systemd as PID 1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from glmstack.lab import network
from glmstack.lab.host import LabError, run
from glmstack.lab.rootfs import unpack

# Where a node sees the lab's shared ccache (bind-mounted from the host's lab cache).
NODE_CCACHE_DIR = "/var/cache/glmstack-ccache"


def node_name(index: int) -> str:
    return f"glm-node{index + 1}"


def prepare_root(root: Path, name: str, address: str, public_key: str) -> None:
    """Give a fresh root filesystem its identity: hostname, address, SSH access."""
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {name}\n")

    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    # Every node gets host keys of its own rather than the ones baked into the shared tarball.
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    run(["ssh-keygen", "-A", "-f", str(root)], capture=True)

    network_dir = root / "etc/systemd/network"
    network_dir.mkdir(parents=True, exist_ok=True)
    (network_dir / "10-glmstack-lab.network").write_text(
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={address}/{network.SUBNET.prefixlen}\nGateway={network.GATEWAY}\n"
    )
    run(["systemctl", f"--root={root}", "enable", "systemd-networkd.service"], capture=True)
    # The node resolves names the way its host does.
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    shutil.copyfile("/etc/resolv.conf", resolv)


def boot(root: Path, name: str, log_path: Path, ccache_dir: Path) -> int:
    """Start the node; return the PID of its own systemd-nspawn process."""
    ccache_dir.mkdir(parents=True, exist_ok=True)
    # The node's own veth from a previous boot outlives a node killed mid-shutdown for a moment;
    # nspawn refuses to boot beside it ("File exists").
    veth = f"vb-{name}"[:15]
    if network.link_exists(veth):
        subprocess.run(["ip", "link", "delete", veth], check=False, capture_output=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                "systemd-nspawn",
                f"--directory={root}",
                "--boot",
                # The host has no systemd/machined to register with (see LAB.md).
                "--register=no",
                "--keep-unit",
                f"--network-bridge={network.BRIDGE}",
                f"--machine={name}",
                f"--bind={ccache_dir}:{NODE_CCACHE_DIR}",
                "--console=read-only",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def wait_for_ssh(address: str, pid: int, log_path: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_our_nspawn(pid, None):
            tail = log_path.read_text(errors="replace")[-2000:]
            raise LabError(f"node at {address} exited while booting; its console said:\n{tail}")
        try:
            with socket.create_connection((address, 22), timeout=2) as conn:
                if conn.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise LabError(f"node at {address} did not answer SSH within {timeout:.0f}s (log: {log_path})")


def _nspawn_args(pid: int | str) -> list[bytes]:
    """The command line of PID when it is a running systemd-nspawn, else nothing."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []
    # A finished process (even an unreaped zombie) has an empty command line.
    return cmdline if cmdline[0].endswith(b"systemd-nspawn") else []


def is_our_nspawn(pid: int, root: Path | None) -> bool:
    """True when PID is still the systemd-nspawn process we started for this root."""
    cmdline = _nspawn_args(pid)
    return bool(cmdline) and (root is None or f"--directory={root}".encode() in cmdline)


def nspawns_under(directory: Path) -> list[tuple[int, Path]]:
    """The nspawn processes booting a root inside DIRECTORY, with their roots: a node booted by a
    run interrupted before it recorded the PID is found this way, and only nodes of this lab are."""
    prefix = f"--directory={directory}/".encode()
    return [(int(proc.name), Path(arg.removeprefix(b"--directory=").decode()))
            for proc in Path("/proc").iterdir() if proc.name.isdigit()
            for arg in _nspawn_args(proc.name) if arg.startswith(prefix)]


def _reap(pid: int) -> None:
    """Collect the exit status when the node was started by this very process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(pid: int, root: Path, timeout: float = 60.0) -> None:
    """Stop a node by the PID of its own nspawn process: clean shutdown first, then kill."""
    if not is_our_nspawn(pid, root):
        return
    # nspawn turns SIGTERM into an orderly shutdown of the node's systemd.
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_our_nspawn(pid, root):
            break
        time.sleep(0.3)
    else:
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not is_our_nspawn(pid, root):
                break
            time.sleep(0.1)
    _reap(pid)


def create(index: int, root: Path, tarball: Path, public_key: str) -> tuple[str, str]:
    name, address = node_name(index), network.node_address(index)
    if root.exists():
        shutil.rmtree(root)
    unpack(tarball, root)
    prepare_root(root, name, address, public_key)
    return name, address
