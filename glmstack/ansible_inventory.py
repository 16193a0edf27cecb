"""Ansible inventories as glmstack inventories: read by ansible-core's own InventoryManager and
VariableManager (INI or YAML file, or a directory of them, with group_vars/ and host_vars/).

    glmstack plan hosts.ini            pyinfra @ansible/hosts.ini deploys/glm52.py

- A host's variables (its groups', then its own, as Ansible merges them, templates rendered) are
  its host data, read one of two ways:
  - a shared inventory (DeepOps, kubespray, ...: any host has a `glmstack_<setting>` variable):
    glmstack's hosts are those with a glmstack_ variable, read only from glmstack_ names (the prefix
    is ours: an unknown glmstack_ name is refused with a did-you-mean). Every other variable is
    another playbook's and ignored, even one named like a setting (kubespray's nvidia_driver_version
    "384.111", the nvidia_driver role's nvidia_driver_branch), so it is never read with another meaning.
  - an inventory written for glmstack (no glmstack_ variable anywhere): plain setting names.
  Either way a variable that is not read is ignored, not refused; `glmstack plan` lists the names.
- `address` is the ansible_host when that is an IP address and no address is given.
- Ansible's own variables are not host data: magic variables (inventory_hostname, groups, ...),
  `ansible_*` (connection settings; those pyinfra has are translated: ANSIBLE_TO_PYINFRA), and
  `vault_*` (the Ansible convention for vaulted values that other variables refer to).
- Secrets: service_api_key, model_hf_token and model_modelscope_token hold the secret itself, and
  must be vault-encrypted (`ansible-vault encrypt_string`, or a vaulted vars file). Each is
  decrypted with the operator's vault password file (ANSIBLE_VAULT_PASSWORD_FILE or
  --vault-password-file), written to a 0600 file in a 0700 directory of this process's own
  (removed when the process ends), and the host data names that file in the setting meant for it
  (service_api_key_file, ...): the deploy reads it there as it reads any secret file. The value is
  never in host data, a command line, an output or a world-readable file.
- ansible-core is optional (`pip install glmstack[ansible]`); only these inventories need it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from glmstack.hostdata import HostConfig, InventoryError
from glmstack.secrets import SECRET_FILE_SETTINGS
from glmstack.shape import PYINFRA_HOST_KEYS, _did_you_mean
from roles.registry import ROLE_PREFIXES

VAULT_PASSWORD_FILE_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"
# Our namespace in a shared inventory: `glmstack_<setting>`.
PREFIX = "glmstack_"
# The variables each host of the last inventory read ignored, by inventory path then host (names only;
# `glmstack plan` shows them, so a misspelt plain name is seen).
IGNORED: dict[str, dict[str, list[str]]] = {}
# The hosts of the last shared inventory read that have no glmstack_ variable: not glmstack's.
SKIPPED: dict[str, list[str]] = {}


# The settings every host must have: one given only by its plain name in a shared inventory is an error
# (the host cannot be planned), said as what it is.
REQUIRED = frozenset(name for name, field in HostConfig.model_fields.items() if field.is_required())


def _ours(every: dict[str, Any]) -> bool:
    return any(isinstance(name, str) and name.startswith(PREFIX) for name in every)

# Ansible's connection variables and the pyinfra settings they become (older ansible_ssh_* aliases too).
ANSIBLE_TO_PYINFRA = {
    "ansible_host": "ssh_hostname", "ansible_ssh_host": "ssh_hostname",
    "ansible_user": "ssh_user", "ansible_ssh_user": "ssh_user",
    "ansible_port": "ssh_port", "ansible_ssh_port": "ssh_port",
    "ansible_ssh_private_key_file": "ssh_key", "ansible_private_key_file": "ssh_key",
    "ansible_become": "_sudo", "ansible_become_user": "_sudo_user",
    # Passwords become the settings host data refuses, so they are refused with the same words.
    "ansible_password": "ssh_password", "ansible_ssh_pass": "ssh_password", "ansible_ssh_password": "ssh_password",
    "ansible_become_password": "_sudo_password", "ansible_become_pass": "_sudo_password",
    "ansible_sudo_pass": "_sudo_password",
}
# Variables Ansible itself sets on every host (plus any ansible_*): never host data.
MAGIC_VARIABLES = frozenset({
    "inventory_hostname", "inventory_hostname_short", "inventory_file", "inventory_dir", "group_names",
    "groups", "hostvars", "playbook_dir", "omit", "role_names", "environment", "play_hosts",
})
# The settings that hold a secret itself in an Ansible inventory (vaulted), and the *_file setting
# each one's 0600 file is given to.
VAULTED_SECRETS = {setting.removesuffix("_file"): setting for setting in SECRET_FILE_SETTINGS}


def is_ansible_inventory(path: str | Path) -> bool:
    """Anything but a .py file is read as an Ansible inventory: an INI or YAML file, or a directory."""
    path = Path(path)
    return path.is_dir() or (path.is_file() and path.suffix != ".py")


def _secrets_dir() -> Path:
    """A 0700 directory of this process's own, removed when it ends (in the user's runtime directory,
    a tmpfs, when there is one)."""
    global _SECRETS_DIR
    if _SECRETS_DIR is None or not _SECRETS_DIR.is_dir():
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        _SECRETS_DIR = Path(tempfile.mkdtemp(prefix="glmstack-vault-",
                                             dir=runtime if runtime and os.path.isdir(runtime) else None))
        atexit.register(shutil.rmtree, _SECRETS_DIR, ignore_errors=True)
    return _SECRETS_DIR


_SECRETS_DIR: Path | None = None


def _secret_file(host: str, setting: str, value: str) -> str:
    """The secret written to a new 0600 file (created 0600: never readable by others, even a moment)."""
    path = Path(tempfile.mkstemp(prefix=f"{setting}-", dir=_secrets_dir())[1])  # mkstemp: 0600, O_EXCL
    with open(path, "w") as handle:
        handle.write(value.strip() + "\n")
    return str(path)


def _plain(value: Any) -> Any:
    """Ansible's tagged values as plain Python ones (a tagged str is a subclass; strict checks want str)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _first_line(error: BaseException) -> str:
    """Ansible's message, on one line, without its source excerpt."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:300]


@contextmanager
def _ansible_quiet_and_strict(problems: list[str]) -> Iterator[None]:
    """Ansible's warnings collected instead of printed, an inventory it cannot parse an error, and only
    file inventory plugins (INI, YAML, TOML): an executable is never run as an inventory script."""
    from ansible import constants
    from ansible.utils.display import Display

    display = Display()
    saved = {name: getattr(constants, name) for name in
             ("INVENTORY_ENABLED", "INVENTORY_ANY_UNPARSED_IS_FAILED", "INVENTORY_UNPARSED_IS_FAILED")}
    methods = {name: getattr(display, name) for name in ("warning", "error_as_warning", "deprecated")}

    def collect(msg: Any = "", *args: Any, exception: BaseException | None = None, **kwargs: Any) -> None:
        said = _first_line(exception) if exception is not None else _first_line(Exception(str(msg)))
        # Each plugin that tried the file says why it could not: the one for the file's kind goes first.
        if "'yaml' plugin" in str(msg):
            said = f"YAML: {said}"
        elif "'ini' plugin" in str(msg):
            said = f"INI: {said}"
        problems.append(said)

    constants.INVENTORY_ENABLED = ["yaml", "ini", "toml"]
    constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True
    constants.INVENTORY_UNPARSED_IS_FAILED = True
    display.warning = collect
    display.error_as_warning = collect
    display.deprecated = lambda *args, **kwargs: None
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(constants, name, value)
        for name, method in methods.items():
            setattr(display, name, method)


@contextmanager
def _vault_context(secrets: list) -> Iterator[None]:
    """Ansible's vault secrets, active while values are decrypted (ansible-core 2.19 keeps them in a
    process-wide context that its own CLI sets once)."""
    from ansible.parsing.vault import VaultSecretsContext

    saved = VaultSecretsContext._current
    VaultSecretsContext._current = VaultSecretsContext(secrets)
    try:
        yield
    finally:
        VaultSecretsContext._current = saved


def _vault_secrets(loader: Any, password_file: str | None, where: str) -> list:
    if not password_file:
        return []
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import get_file_vault_secret

    path = Path(password_file).expanduser()
    if not path.is_file():
        raise InventoryError(f"{where}: vault password file {password_file} is not a file")
    try:
        secret = get_file_vault_secret(filename=str(path), loader=loader)
        secret.load()
    except AnsibleError as error:
        raise InventoryError(f"{where}: vault password file {password_file}: {_first_line(error)}") from None
    return [("default", secret)]


def _is_vaulted(value: Any) -> bool:
    """A value ansible-vault kept: an encrypted string (!vault), its decryption, or a value read from
    a whole vault-encrypted vars file (which ansible-core tags only with that file as its origin)."""
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible.parsing.vault import EncryptedString, VaultHelper

    if isinstance(value, EncryptedString) or VaultHelper.get_ciphertext(value, with_tags=False) is not None:
        return True
    origins = [tag.path for tag in AnsibleTagHelper.tags(value) if type(tag).__name__ == "Origin"]
    return any(origin and _vault_file(origin) for origin in origins)


def _vault_file(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False


def ansible_inventory_hosts(path: str | Path, vault_password_file: str | None = None,
                            ) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Every host of an Ansible inventory, in Ansible's order: (name, host data, group names).

    Problems are InventoryError lines: the inventory's own (`inventory PATH: ...`), or a host's
    (`host H: field F: ...`), every host's together."""
    where = f"inventory {path}"
    try:
        _import_ansible_quietly()
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar
        from ansible.vars.manager import VariableManager
    except ImportError:
        raise InventoryError(f"{where}: reading an Ansible inventory needs ansible-core: "
                             "pip install 'glmstack[ansible]'") from None
    password_file = vault_password_file or os.environ.get(VAULT_PASSWORD_FILE_ENV) or None
    loader = DataLoader()
    secrets = _vault_secrets(loader, password_file, where)
    loader.set_vault_secrets(secrets)
    warnings: list[str] = []
    with _ansible_quiet_and_strict(warnings), _vault_context(secrets):
        try:
            inventory = InventoryManager(loader=loader, sources=[str(path)])
            variables = VariableManager(loader=loader, inventory=inventory)
            hosts = inventory.get_hosts()
        except AnsibleError as error:
            kind = "YAML: " if Path(path).suffix in (".yml", ".yaml", ".json") else "INI: "
            parsed = sorted(warnings, key=lambda line: not line.startswith(kind))
            said = _vault_problem(error, password_file) or (parsed[0] if parsed else _first_line(error))
            raise InventoryError(f"{where}: {said}") from None
        if not hosts:
            raise InventoryError(f"{where}: defines no hosts (an INI [group] with host lines, or YAML "
                                 "all: hosts: ...)")
        result, errors = [], []
        IGNORED[str(path)] = {}
        SKIPPED[str(path)] = []
        every_host = []
        for host in hosts:
            try:
                every_host.append((host, variables.get_vars(host=host, include_hostvars=False)))
            except AnsibleError as error:
                said = _vault_problem(error, password_file) or _first_line(error)
                raise InventoryError(f"{where}: host {host.name}: {said}") from None
        # A shared inventory (any glmstack_ variable): glmstack's hosts are those with one, read from them.
        shared = any(_ours(every) for _, every in every_host)
        for host, every in every_host:
            if shared and not _ours(every):
                SKIPPED[str(path)].append(host.name)
                continue
            data, problems, ignored = _host_data(host.name, every, Templar(loader=loader, variables=every),
                                                 password_file, shared)
            IGNORED[str(path)][host.name] = ignored
            errors += [f"host {host.name}: field {field}: {message}" for field, message in problems]
            groups = [group.name for group in host.get_groups() if group.name not in ("all", "ungrouped")]
            result.append((host.name, data, groups))
        if not result:
            raise InventoryError(f"{where}: defines no hosts with glmstack_ variables")
    if errors:
        raise InventoryError("\n".join(errors))
    return result


def _import_ansible_quietly() -> None:
    """Import ansible-core with the real socket.getaddrinfo: on import it probes getaddrinfo, and under
    pyinfra (gevent's patched socket) the probe's expected failure is printed as a traceback."""
    import socket

    if "ansible.module_utils._internal._datatag" in sys.modules:
        return
    try:
        from gevent import monkey
    except ImportError:
        monkey = None
    patched = monkey is not None and monkey.is_object_patched("socket", "getaddrinfo")
    current = socket.getaddrinfo
    if patched:
        socket.getaddrinfo = monkey.get_original("socket", "getaddrinfo")
    try:
        import ansible.module_utils._internal._datatag  # noqa: F401 - runs the probe
    finally:
        socket.getaddrinfo = current


def _vault_problem(error: BaseException, password_file: str | None) -> str | None:
    text = str(error)
    if "vault" not in text.lower() and "decrypt" not in text.lower():
        return None
    if not password_file:
        return (f"is vault-encrypted and no vault password file was given; set {VAULT_PASSWORD_FILE_ENV} "
                "or pass --vault-password-file")
    return f"cannot be decrypted with the vault password file {password_file} (another password?)"


def _known_names() -> set[str]:
    """What an Ansible variable may set: glmstack's settings, pyinfra's host keys, the vaulted secrets."""
    return set(HostConfig.model_fields) | set(PYINFRA_HOST_KEYS) | set(VAULTED_SECRETS)


def _select(every: dict[str, Any], shared: bool) -> tuple[list[tuple[str, str]], list[str], list[tuple[str, str]]]:
    """Which variables are host data: [(variable, setting)], the names ignored, and problems.

    In a shared inventory (one with any `glmstack_<setting>` variable: DeepOps, kubespray, ...) a host
    is read only from those; every other variable, even one named like a setting, belongs to other
    playbooks and is ignored. An inventory with none (written for glmstack) is read from the plain
    setting names. Ansible's connection variables (ANSIBLE_TO_PYINFRA) are read in both cases."""
    known = _known_names()
    names = [name for name in sorted(every, key=str) if not (
        name in MAGIC_VARIABLES or name.startswith("vault_") or
        (name.startswith("ansible_") and name not in ANSIBLE_TO_PYINFRA))]
    chosen: list[tuple[str, str]] = []
    ignored: list[str] = []
    problems: list[tuple[str, str]] = []
    for name in names:
        if name in ANSIBLE_TO_PYINFRA:
            chosen.append((name, name))
        elif name.startswith(PREFIX):
            setting = name.removeprefix(PREFIX)
            if setting in known and setting not in ANSIBLE_TO_PYINFRA:
                chosen.append((name, setting))
            else:
                hint = _did_you_mean(setting, known, ROLE_PREFIXES).replace("did you mean ", f"did you mean {PREFIX}")
                problems.append((name, f"unknown setting: the {PREFIX} prefix is glmstack's, followed by a "
                                       f"setting name{hint}"))
        elif name in known and not shared:
            chosen.append((name, name))
        elif name in REQUIRED and PREFIX + name not in every:
            # The host could not be planned without it: say why it was not read instead of "is required".
            problems.append((name, f"is not read: this inventory has {PREFIX} variables, so only {PREFIX} names "
                                   f"are read; write {PREFIX}{name}"))
        else:
            ignored.append(name)
    return chosen, ignored, problems


def _host_data(host: str, every: dict[str, Any], templar: Any, password_file: str | None, shared: bool,
               ) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
    from ansible.errors import AnsibleError

    data: dict[str, Any] = {}
    chosen, ignored, problems = _select(every, shared)
    settings = {setting for _, setting in chosen}
    for name, setting in chosen:
        if ANSIBLE_TO_PYINFRA.get(name) in ("ssh_password", "_sudo_password"):  # never shown, never used
            problems.append((name, "no password in an inventory: use an SSH key (ansible_ssh_private_key_file) or "
                                   "ssh-agent, and passwordless sudo"))
            continue
        raw = every[name]
        try:
            value = templar.template(raw)
        except AnsibleError as error:
            problems.append((name, _vault_problem(error, password_file) or
                             f"its template does not render: {_first_line(error)}"))
            continue
        if setting in VAULTED_SECRETS:
            if not _is_vaulted(raw) and not _is_vaulted(value):
                problems.append((name, "is not vault-encrypted; a secret in an inventory must be: ansible-vault "
                                       f"encrypt_string --name {name} (or give {VAULTED_SECRETS[setting]}, "
                                       "a 0600 file)"))
            elif not isinstance(value, str) or not str(value).strip():
                problems.append((name, "must decrypt to the secret as text"))
            elif VAULTED_SECRETS[setting] in settings:
                problems.append((name, f"is given twice: here and as {VAULTED_SECRETS[setting]}; give one"))
            else:
                data[VAULTED_SECRETS[setting]] = _secret_file(host, VAULTED_SECRETS[setting], str(value))
            continue
        if _is_vaulted(raw) or _is_vaulted(value):
            problems.append((name, "is vault-encrypted, but only secrets may be: it would be shown in plans and "
                                   f"installed on hosts; allowed vaulted: {', '.join(VAULTED_SECRETS)}"))
            continue
        value = _plain(value)
        if name in ANSIBLE_TO_PYINFRA and ANSIBLE_TO_PYINFRA[name] in settings:
            problems.append((name, f"is given twice: here and as {ANSIBLE_TO_PYINFRA[name]}; give one"))
            continue
        if ANSIBLE_TO_PYINFRA.get(name) == "_sudo" and isinstance(value, str):
            from ansible.module_utils.parsing.convert_bool import boolean

            value = boolean(value, strict=False)  # INI gives ansible_become=true as text
        data[ANSIBLE_TO_PYINFRA.get(name, setting)] = value
    # Multi-node peers reach a host at `address`: an ansible_host that is an IP address is that address.
    hostname = data.get("ssh_hostname")
    if "address" not in settings and isinstance(hostname, str) and _is_ip(hostname) and any(
            ANSIBLE_TO_PYINFRA.get(name) == "ssh_hostname" for name, _ in chosen):
        data["address"] = hostname
    return data, problems, ignored


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
