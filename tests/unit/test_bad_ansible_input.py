"""The bad-input corpus's Ansible cases (tests/badinput/22NN_*.ini, .yml): bad data in an Ansible
inventory gets the one-line errors a .py inventory gets (`host H: field F: ...`), and an inventory
Ansible cannot read one line naming it (`inventory PATH: INI: ...`), before any host is contacted.
Each case's first line is `# expect: <the error line, or part of it>`; cases are read with the
corpus's vault password file (ansible-vault-password), except those named *without_password*."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_input import expected

from glmstack import cli
from glmstack.ansible_inventory import VAULT_PASSWORD_FILE_ENV
from glmstack.paths import DEPLOYS

CORPUS = Path(__file__).resolve().parent.parent / "badinput"
CASES = sorted(path for path in CORPUS.glob("22[0-9][0-9]_*") if path.suffix in (".ini", ".yml", ".yaml"))
PASSWORD_FILE = CORPUS / "ansible-vault-password"
ERROR_LINE = re.compile(r"^(host \S+: (field \S+|does not fit): \S|inventory \S+: (INI|YAML): \S)")


@pytest.fixture(autouse=True)
def vault_password(monkeypatch):
    monkeypatch.setenv(VAULT_PASSWORD_FILE_ENV, str(PASSWORD_FILE))


def test_the_corpus_has_ansible_cases():
    assert len(CASES) >= 10
    assert {path.suffix for path in CASES} == {".ini", ".yml"}


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_bad_ansible_inventory_gets_one_error_line(path, capsys, monkeypatch):
    if "without_password" in path.name:
        monkeypatch.delenv(VAULT_PASSWORD_FILE_ENV)
    assert cli.main(["plan", str(path), "--json"]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert errors and all(ERROR_LINE.match(line) for line in errors), errors
    assert len(errors) == 1, errors
    assert expected(path) in errors[0], errors


@pytest.mark.parametrize("name", ["2209_engine_not_on_accelerator.yml", "2203_vault_without_password.yml"])
def test_pyinfra_stops_at_the_ansible_inventory_without_connecting(name):
    env = {key: value for key, value in os.environ.items() if key != VAULT_PASSWORD_FILE_ENV}
    if "without_password" not in name:
        env[VAULT_PASSWORD_FILE_ENV] = str(PASSWORD_FILE)
    pyinfra = Path(sys.executable).parent / "pyinfra"
    result = subprocess.run([str(pyinfra), "-y", f"@ansible/{CORPUS / name}", str(DEPLOYS / "glm52.py")],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected(CORPUS / name) in result.stderr
    assert "Connecting to hosts" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr  # ansible-core's import probe under gevent is not shown


def test_secrets_in_the_corpus_are_never_shown(capsys):
    assert cli.main(["plan", str(CORPUS / "2207_ssh_password.ini")]) == 1
    assert cli.main(["plan", str(CORPUS / "2204_plain_api_key.yml")]) == 1
    out = capsys.readouterr()
    assert "hunter2hunter2" not in out.out + out.err
    assert "badinputbadinputbadinput1234" not in out.out + out.err
