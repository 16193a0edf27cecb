"""The bad-input corpus (tests/badinput): each malformed inventory gets one clear error naming host
and field, when the inventory loads, before any host is contacted. Add a case by adding a file whose
first line is `# expect: <the error line, or the start of it>`."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from glmstack.paths import DEPLOYS

CORPUS = Path(__file__).resolve().parent.parent / "badinput"
CASES = sorted(CORPUS.glob("[0-9]*_*.py"), key=lambda path: int(path.name.split("_", 1)[0]))
ERROR_LINE = re.compile(r"^host \S+: (field \S+|does not fit): \S")


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} does not say what it expects"
    return first.removeprefix("# expect: ")


@pytest.fixture(autouse=True)
def secret_file_modes():
    # Git keeps no read bits: give the corpus's secret files the modes its cases are about.
    os.chmod(CORPUS / "world-readable-token", 0o644)
    for private in ("api-key-two-words", "api-key-private"):
        os.chmod(CORPUS / private, 0o600)


def test_the_corpus_has_at_least_25_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_bad_inventory_gets_one_error_naming_host_and_field(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("host ")]
    assert errors and all(ERROR_LINE.match(line) for line in errors), errors
    # One error: a per-host setting missing on several hosts is the same message for each of them.
    assert len({line.split(": ", 1)[1] for line in errors}) == 1, errors
    assert any(line.startswith(expected(path)) or expected(path) in line for line in errors), errors
    assert "nothing was contacted" in err


@pytest.mark.parametrize("name", ["04_engine_not_on_accelerator.py", "34_duplicate_rank.py"])
def test_pyinfra_stops_at_the_inventory_without_connecting(name):
    assert (CORPUS / name).is_file()  # pyinfra would take a missing file for a host name
    pyinfra = Path(sys.executable).parent / "pyinfra"
    result = subprocess.run([str(pyinfra), "-y", str(CORPUS / name), str(DEPLOYS / "glm52.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert expected(CORPUS / name) in result.stderr
    assert "Connecting to hosts" not in result.stderr + result.stdout


def test_a_malformed_api_key_is_refused_without_being_shown(capsys):
    with pytest.raises(SystemExit):
        runpy.run_path(str(CORPUS / "46_api_key_file_not_one_key.py"))
    err = capsys.readouterr().err
    assert "api-key-two-words" in err
    assert "two words" not in err.replace("api-key-two-words", "")
