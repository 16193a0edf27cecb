"""`pyinfra @ansible/PATH deploys/glm52.py`: an Ansible inventory (INI or YAML file, or a directory
with group_vars/ and host_vars/) as pyinfra's inventory, read by glmstack.ansible_inventory.

pyinfra takes an inventory from a .py file, a host list, a Python function without arguments, or an
inventory connector (`@name/argument`, registered under the `pyinfra.connectors` entry point); only a
connector receives a path, so this is one. It yields each host with its data and its Ansible groups;
the SSH settings come from ansible_host/ansible_user/ansible_port/ansible_ssh_private_key_file.
The vault password file is ANSIBLE_VAULT_PASSWORD_FILE (`glmstack deploy --vault-password-file` sets it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pyinfra.api.exceptions import InventoryError as PyinfraInventoryError
from pyinfra.connectors.base import BaseConnector

from glmstack.ansible_inventory import ansible_inventory_hosts
from glmstack.hostdata import InventoryError
from glmstack.inventory import _loaded_locks
from glmstack.lock import read_lock
from glmstack.resolve import validate_inventory


class AnsibleInventoryConnector(BaseConnector):
    """Hosts of an Ansible inventory; each is then reached over SSH (pyinfra's ssh connector)."""

    handles_execution = False

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict, list[str]]]:
        if not name:
            raise PyinfraInventoryError("@ansible needs an inventory path: pyinfra @ansible/PATH ...")
        try:
            hosts = ansible_inventory_hosts(name)
            # Validated as it loads, against the lock beside it (the deploy resolves with that lock),
            # as glmstack.inventory.group() does for .py inventories.
            lock = _loaded_locks[name] = read_lock(name, required=True)
            validate_inventory([(host, data) for host, data, _ in hosts], lock=lock)
        except InventoryError as error:
            # As glmstack.inventory.group() does for a .py inventory: the message is the whole story.
            sys.stderr.write(f"glmstack: invalid host data, nothing was contacted:\n{error}\n")
            raise SystemExit(2) from None
        yield from hosts
