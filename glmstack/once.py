"""Build a cached directory once: the slow tools the tests and commands make (environments, builds)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path


def build_once(directory: Path, build: Callable[[Path], object]) -> Path:
    """Build `directory` unless a finished build is there (its .done stamp); a failed one is redone."""
    stamp = directory / ".done"
    if stamp.exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    started = time.monotonic()
    build(directory)
    stamp.write_text(f"built in {time.monotonic() - started:.0f}s\n")
    return directory
