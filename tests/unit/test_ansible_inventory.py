"""Ansible inventories (glmstack.ansible_inventory): INI and YAML, with group_vars/ and host_vars/,
read by ansible-core; vaulted secrets decrypted with the operator's password file into 0600 files
the deploy reads as any secret file, and never shown."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from glmstack import cli
from glmstack.ansible_inventory import VAULT_PASSWORD_FILE_ENV, ansible_inventory_hosts, is_ansible_inventory
from glmstack.hostdata import InventoryError
from glmstack.paths import DEPLOYS
from glmstack.planning import inventory_hosts, plan_inventory, pyinfra_command

PASSWORD = "correct horse battery staple"


def vaulted(text: str, password: str = PASSWORD) -> str:
    """ansible-vault encrypt_string, with ansible-core's own VaultLib."""
    return VaultLib([("default", VaultSecret(password.encode()))]).encrypt(text).decode()


def yaml_vault(name: str, text: str, password: str = PASSWORD) -> str:
    return f"{name}: !vault |\n" + "".join(f"  {line}\n" for line in vaulted(text, password).splitlines())


@pytest.fixture
def password_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "vault-password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    monkeypatch.setenv(VAULT_PASSWORD_FILE_ENV, str(path))
    return path


@pytest.fixture
def api_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def ini_inventory(tmp_path, api_key) -> Path:
    """An INI inventory beside group_vars/ (with a vaulted API key) and host_vars/."""
    root = tmp_path / "ini"
    (root / "group_vars").mkdir(parents=True)
    (root / "host_vars").mkdir()
    (root / "hosts.ini").write_text(
        "[cpu]\n"
        "cpu-1 ansible_host=10.9.0.11 ansible_user=root ansible_port=2222 "
        "ansible_ssh_private_key_file=/keys/id_ed25519 ansible_python_interpreter=/usr/bin/python3\n"
        "cpu-2 ansible_host=10.9.0.12\n\n"
        "[cpu:vars]\naccelerator=cpu\nengine=llama.cpp\n")
    (root / "group_vars" / "cpu.yml").write_text(
        "model: glm-5.2-gguf\nmodel_source: /srv/models\nmodel_entry: a.gguf\n"
        "served_model_name: '{{ inventory_hostname }}-glm'\n" + yaml_vault("service_api_key", api_key))
    (root / "host_vars" / "cpu-2.yml").write_text("max_model_len: 4096\nport: 8081\n")
    return root / "hosts.ini"


@pytest.fixture
def yaml_inventory(tmp_path, api_key) -> Path:
    """A YAML inventory directory: children groups, group_vars/all/ with a whole-file-vaulted vars file
    whose vault_* variable another one refers to (the Ansible convention), host_vars/."""
    root = tmp_path / "yaml"
    (root / "group_vars" / "all").mkdir(parents=True)
    (root / "host_vars").mkdir()
    (root / "hosts.yml").write_text(
        "all:\n  children:\n    gpu:\n      children:\n        h200:\n          hosts:\n"
        "            h200-a: {ansible_host: 10.9.1.1, ansible_user: admin, ansible_become: true}\n"
        "          vars: {accelerator: h200}\n")
    (root / "group_vars" / "all" / "main.yml").write_text(
        "model: glm-5.2-fp8\nengine: vllm\nservice_api_key: '{{ vault_service_api_key }}'\n")
    (root / "group_vars" / "all" / "vault.yml").write_text(vaulted(f"vault_service_api_key: {api_key}\n"))
    (root / "host_vars" / "h200-a.yml").write_text("max_num_seqs: 8\n")
    return root


def test_what_is_read_as_an_ansible_inventory(ini_inventory, yaml_inventory):
    assert is_ansible_inventory(ini_inventory) and is_ansible_inventory(yaml_inventory)
    assert not is_ansible_inventory(Path("inventory/cpu.py"))
    assert pyinfra_command(ini_inventory)[-2:] == [f"@ansible/{ini_inventory.resolve()}", str(DEPLOYS / "glm52.py")]
    assert pyinfra_command(Path("inventory/cpu.py"))[-2] == "inventory/cpu.py"


def test_ini_inventory_group_and_host_vars_become_host_data(ini_inventory, password_file, api_key):
    hosts = dict(inventory_hosts(ini_inventory))
    one, two = hosts["cpu-1"], hosts["cpu-2"]
    key_file = Path(one.pop("service_api_key_file"))
    assert one == {"accelerator": "cpu", "engine": "llama.cpp", "model": "glm-5.2-gguf", "model_source": "/srv/models",
                   "model_entry": "a.gguf", "served_model_name": "cpu-1-glm", "ssh_hostname": "10.9.0.11",
                   "ssh_user": "root", "ssh_port": 2222, "ssh_key": "/keys/id_ed25519",
                   "address": "10.9.0.11"}  # address: the ansible_host, an IP address
    assert (two["max_model_len"], two["port"], two["ssh_hostname"]) == (4096, 8081, "10.9.0.12")
    assert type(two["port"]) is int and type(one["ssh_hostname"]) is str  # plain values, not Ansible's tagged ones
    # The vaulted key, decrypted into a file only this user can read, in a directory only this user can enter.
    assert key_file.read_text().strip() == api_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert api_key not in json.dumps(hosts)

    plans = {plan.host: plan for plan in plan_inventory(ini_inventory)}
    assert plans["cpu-2"].gateway.port == 8081 and plans["cpu-1"].served_model_name == "cpu-1-glm"
    assert plans["cpu-1"].config.service_api_key_file.read_text().strip() == api_key


def test_yaml_directory_children_groups_and_a_vaulted_vars_file(yaml_inventory, password_file, api_key):
    [(name, data, groups)] = ansible_inventory_hosts(yaml_inventory)
    assert name == "h200-a" and sorted(groups) == ["gpu", "h200"]
    assert Path(data.pop("service_api_key_file")).read_text().strip() == api_key
    assert data == {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", "max_num_seqs": 8,
                    "ssh_hostname": "10.9.1.1", "ssh_user": "admin", "_sudo": True, "address": "10.9.1.1"}
    [plan] = plan_inventory(yaml_inventory)
    assert plan.config.max_num_seqs == 8


def test_pyinfra_reads_it_through_the_ansible_connector(ini_inventory, password_file, api_key):
    from pyinfra_cli.inventory import make_inventory

    inventory = make_inventory(f"@ansible/{ini_inventory}")
    assert sorted(host.name for host in inventory) == ["cpu-1", "cpu-2"]
    assert sorted(host.name for host in inventory.get_group("cpu")) == ["cpu-1", "cpu-2"]
    one = inventory.get_host("cpu-1")
    assert (one.data.ssh_hostname, one.data.ssh_user, one.data.ssh_port, one.data.ssh_key) == \
        ("10.9.0.11", "root", 2222, "/keys/id_ed25519")
    assert Path(one.data.service_api_key_file).read_text().strip() == api_key


def test_plan_and_render_never_show_the_vaulted_key(ini_inventory, password_file, api_key, monkeypatch, capsys):
    monkeypatch.delenv(VAULT_PASSWORD_FILE_ENV)
    assert cli.main(["plan", str(ini_inventory), "--json"]) == 1  # no password file: refused
    refused = json.loads(capsys.readouterr().out)["errors"]
    assert refused == [f"host {host}: field service_api_key: is vault-encrypted and no vault password file was given; "
                       "set ANSIBLE_VAULT_PASSWORD_FILE or pass --vault-password-file" for host in ("cpu-1", "cpu-2")]

    monkeypatch.setenv(VAULT_PASSWORD_FILE_ENV, "unset by the option below")
    assert cli.main(["plan", str(ini_inventory), "--json", "--vault-password-file", str(password_file)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [host["host"] for host in document["hosts"]] == ["cpu-1", "cpu-2"]
    assert cli.main(["render", str(ini_inventory), "cpu-1"]) == 0
    assert cli.main(["plan", str(ini_inventory)]) == 0
    out = capsys.readouterr()
    assert "llama-server" in out.out
    assert api_key not in json.dumps(document) + out.out + out.err


def test_the_decrypted_key_file_is_removed_when_the_process_ends(ini_inventory, password_file, api_key):
    script = ("import sys; from glmstack.planning import inventory_hosts; "
              "print(dict(inventory_hosts(sys.argv[1]))['cpu-1']['service_api_key_file'])")
    run = subprocess.run([sys.executable, "-c", script, str(ini_inventory)], capture_output=True, text=True,
                         env=os.environ, check=True)
    key_file = Path(run.stdout.strip())
    assert key_file.name.startswith("service_api_key_file-")
    assert not key_file.exists() and not key_file.parent.exists()
    assert api_key not in run.stdout + run.stderr


def test_a_wrong_vault_password_is_one_line_per_host(ini_inventory, tmp_path, monkeypatch):
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    monkeypatch.setenv(VAULT_PASSWORD_FILE_ENV, str(wrong))
    with pytest.raises(InventoryError) as error:
        inventory_hosts(ini_inventory)
    assert str(error.value).splitlines() == [
        f"host {host}: field service_api_key: cannot be decrypted with the vault password file {wrong} "
        "(another password?)" for host in ("cpu-1", "cpu-2")]


def test_a_whole_file_vault_without_a_password_names_the_inventory(yaml_inventory, monkeypatch):
    monkeypatch.delenv(VAULT_PASSWORD_FILE_ENV, raising=False)
    with pytest.raises(InventoryError) as error:
        inventory_hosts(yaml_inventory)
    assert str(error.value) == (f"inventory {yaml_inventory}: host h200-a: is vault-encrypted and no vault password "
                                "file was given; set ANSIBLE_VAULT_PASSWORD_FILE or pass --vault-password-file")


def test_every_secret_setting_takes_a_vaulted_value(tmp_path, password_file):
    token, modelscope = "hf_" + "a1" * 20, secrets.token_urlsafe(24)
    vaults = yaml_vault("model_hf_token", token) + yaml_vault("model_modelscope_token", modelscope)
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    h200-a:\n      accelerator: h200\n      model: glm-5.2-fp8\n      engine: vllm\n"
        "  vars:\n" + "".join(f"    {line}\n" for line in vaults.splitlines()))
    [(_, data)] = inventory_hosts(tmp_path / "hosts.yml")
    assert Path(data["model_hf_token_file"]).read_text().strip() == token
    assert Path(data["model_modelscope_token_file"]).read_text().strip() == modelscope
    assert "model_hf_token" not in data and "model_modelscope_token" not in data


def test_a_connection_setting_given_both_ways_is_refused(tmp_path):
    (tmp_path / "hosts.ini").write_text("h ansible_host=10.0.0.1 ssh_hostname=10.0.0.2 accelerator=h200\n")
    with pytest.raises(InventoryError) as error:
        inventory_hosts(tmp_path / "hosts.ini")
    assert str(error.value) == "host h: field ansible_host: is given twice: here and as ssh_hostname; give one"
