"""Build and cache the Debian root filesystem every lab node boots from."""

from __future__ import annotations

import hashlib
from pathlib import Path

from glmstack.lab.host import run

SUITE = "bookworm"
VARIANT = "minbase"
# What a freshly installed server has; everything else is the deploy's job.
INCLUDE = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "curl",
    "ca-certificates",
    "iproute2",
    "sudo",
)


def rootfs_key() -> str:
    recipe = "\n".join([SUITE, VARIANT, *INCLUDE])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def cached_rootfs(cache_dir: Path) -> Path:
    """The rootfs tarball, built with mmdebstrap on first use and reused after."""
    tarball = cache_dir / f"rootfs-{SUITE}-{rootfs_key()}.tar"
    if tarball.exists():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".tar.partial")
    partial.unlink(missing_ok=True)
    # mmdebstrap reuses the host's apt configuration, so nodes use whatever mirror the host uses.
    run(
        [
            "mmdebstrap",
            f"--variant={VARIANT}",
            f"--include={','.join(INCLUDE)}",
            "--format=tar",
            SUITE,
            str(partial),
        ]
    )
    partial.rename(tarball)
    return tarball


def unpack(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=False)
    # GNU tar keeps ownership, device nodes and xattrs exactly as mmdebstrap wrote them.
    run(["tar", "--numeric-owner", "--xattrs", "-xpf", str(tarball), "-C", str(dest)])

