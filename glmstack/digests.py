"""File digests, read in blocks (installers and weights are gigabytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 8 << 20


def sha256_of(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
