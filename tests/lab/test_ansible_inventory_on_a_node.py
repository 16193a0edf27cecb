"""A lab node planned, deployed and drift-checked from an Ansible inventory (YAML, group_vars/,
host_vars/) whose API key is ansible-vault encrypted: the key works against the engine, and is in
no output, command line, journal, unit or world-readable file, on the node or here."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from test_cpu_e2e import status_from_the_network

from glmstack.config import resolve
from glmstack.lab import lab, leaks
from glmstack.lab.profile import MODEL_PORT, cpu_profile_data, models_dir, run_infra_checks
from glmstack.lab.serve import serve_directory

pytestmark = pytest.mark.lab

GLMSTACK = str(Path(sys.executable).parent / "glmstack")
HOST = "glm-ansible-1"  # an inventory name that is not the address: ansible_host is


def glmstack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([GLMSTACK, *args], capture_output=True, text=True, env=env or dict(os.environ))


def vault_dirs() -> set[Path]:
    """The decrypted-secret directories glmstack processes have open here."""
    places = {Path(tempfile.gettempdir())} | ({Path(os.environ["XDG_RUNTIME_DIR"])}
                                              if os.environ.get("XDG_RUNTIME_DIR") else set())
    return {path for place in places if place.is_dir() for path in place.glob("glmstack-vault-*")}


@pytest.fixture(scope="module")
def ansible_lab(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    lab.down(paths)
    work = tmp_path_factory.mktemp("ansible")
    try:
        node = lab.up(1, paths)[0]
        [(address, shared)] = lab.inventory_hosts(paths, cpu_profile_data(paths, gateway=False))
        key = secrets.token_urlsafe(32)
        password = work / "vault-password"
        password.write_text(secrets.token_urlsafe(24) + "\n")
        password.chmod(0o600)
        ciphertext = VaultLib([("default", VaultSecret(password.read_text().strip().encode()))]).encrypt(key).decode()
        root = work / "inventory"
        (root / "group_vars").mkdir(parents=True)
        (root / "host_vars").mkdir()
        (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"glm": {"hosts": {HOST: None}}}}}))
        ssh = {"ansible_host": address, "ansible_user": shared.pop("ssh_user"),
               "ansible_ssh_private_key_file": shared.pop("ssh_key"), "address": address}
        (root / "host_vars" / f"{HOST}.yml").write_text(yaml.safe_dump(ssh))
        (root / "group_vars" / "glm.yml").write_text(
            yaml.safe_dump(shared) + "service_api_key: !vault |\n" +
            "".join(f"  {line}\n" for line in ciphertext.splitlines()))
        yield {"paths": paths, "node": node, "address": address, "inventory": root, "key": key,
               "password": password, "data": {**shared, "address": address}}
    finally:
        lab.down(paths)


@pytest.fixture(scope="module")
def deployed(ansible_lab):
    lab_ = ansible_lab
    host = lab.node_connection(lab_["address"], lab_["paths"])
    before = vault_dirs()
    plan = glmstack("plan", str(lab_["inventory"]), "--json", "--vault-password-file", str(lab_["password"]))
    with serve_directory(models_dir(lab_["paths"]), port=MODEL_PORT), leaks.process_samples(host):
        deploy = glmstack("deploy", str(lab_["inventory"]), "--json", "--vault-password-file", str(lab_["password"]))
    env = {**os.environ, "ANSIBLE_VAULT_PASSWORD_FILE": str(lab_["password"])}
    drift = glmstack("drift", str(lab_["inventory"]), "--json", env=env)
    return {"host": host, "plan": plan, "deploy": deploy, "drift": drift, "left_behind": vault_dirs() - before}


def test_plan_reads_the_ansible_inventory(ansible_lab, deployed):
    plan = deployed["plan"]
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    [host] = json.loads(plan.stdout)["hosts"]
    assert (host["host"], host["engine"], host["served_model_name"]) == (HOST, "llama.cpp", "glm-5.2-tiny-test")


def test_deploy_and_drift_from_the_ansible_inventory(ansible_lab, deployed):
    deploy, drift = deployed["deploy"], deployed["drift"]
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-4000:]
    assert json.loads(deploy.stdout)["hosts"][0]["host"] == HOST
    assert json.loads(deploy.stdout)["hosts"][0]["status"] == "ok"
    assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr[-3000:]
    assert [(h["host"], h["status"]) for h in json.loads(drift.stdout)["hosts"]] == [(HOST, "converged")]


def test_testinfra_checks_pass_on_the_node_named_by_ansible_host(ansible_lab, deployed, monkeypatch):
    """tests/infra finds the host's plan by its ansible_host address (the inventory name is another)."""
    assert deployed["deploy"].returncode == 0
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(ansible_lab["password"]))
    assert run_infra_checks(ansible_lab["inventory"], ansible_lab["paths"], [ansible_lab["address"]]) == 0


def test_the_vaulted_key_works_and_never_leaks(ansible_lab, deployed):
    assert deployed["deploy"].returncode == 0
    host, address, key = deployed["host"], ansible_lab["address"], ansible_lab["key"]
    plan = resolve(HOST, ansible_lab["data"])
    assert status_from_the_network(plan, address, None) == 401
    assert status_from_the_network(plan, address, key) == 200
    assert host.file(plan.api_key.key_file).content_string.strip() == key  # the operator's, not a made one

    outputs = [run.stdout + run.stderr for run in (deployed["plan"], deployed["deploy"], deployed["drift"])]
    places = leaks.places(host, [f"{plan.unit_name}.service"], outputs)
    assert "llama-server" in places["process list"] and "llama-server" in places["journal"]
    leaks.assert_absent({"the vaulted API key": key}, places)
    for path in (plan.api_key.key_file, plan.api_key.env_file):
        assert (host.file(path).user, host.file(path).mode) == ("root", 0o600), path
    # Here: the decrypted copies went with the processes that made them; the inventory holds ciphertext only.
    assert not deployed["left_behind"], deployed["left_behind"]
    for path in ansible_lab["inventory"].rglob("*"):
        assert not path.is_file() or key not in path.read_text(), path
