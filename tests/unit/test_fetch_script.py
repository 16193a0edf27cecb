"""The weights fetch script's own checks, run for real with bash against a scratch directory."""

from __future__ import annotations

import subprocess

from hostdata import CPU_MIRROR

from glmstack.config import resolve
from roles.model.operations import fetch_script


def space_check(script: str) -> str:
    """The lines from the total to the end of the disk space check."""
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("total=$("))
    end = next(i for i, line in enumerate(lines) if i > start and line == "fi")
    return "\n".join(["set -eu", 'total="$TOTAL"', *lines[start + 1:end + 1], "echo room"])


def run_check(tmp_path, total: int) -> subprocess.CompletedProcess:
    script = space_check(fetch_script(resolve("n", CPU_MIRROR)))
    return subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", "TOTAL": str(total),
                                                        "dir": str(tmp_path / "weights")},
                          capture_output=True, text=True)


def test_a_download_that_does_not_fit_stops_before_it_starts_and_says_how_much(tmp_path):
    result = run_check(tmp_path, 10**18)  # an exabyte
    assert result.returncode == 1 and "room" not in result.stdout
    assert "weights glm-5.2-gguf: 1000000000.0 GB more needed in " + str(tmp_path / "weights") in result.stderr
    assert "GB free there" in result.stderr


def test_a_download_that_fits_goes_on(tmp_path):
    result = run_check(tmp_path, 1024)
    assert result.returncode == 0 and result.stdout.strip() == "room", result.stderr
