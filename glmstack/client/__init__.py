"""`glmstack client INVENTORY [HOST]`: ready-to-use client settings for each endpoint a deployment serves.

One block per endpoint (a replica group behind its gateways, a deployment, or a host serving alone):
the OpenAI SDK (Python), curl, Claude Code (the engine release's Anthropic-compatible messages
endpoint, catalog data) and a curl call of that messages endpoint, with the served model name, the
CA to trust and how to ask for thinking or a plain answer (the model family's modes, catalog data).

The API key and the CA certificate are read from the host over SSH with pyinfra's own connectors
(pyinfra and Ansible inventories alike), as a fact: the key is never in a command line or a log,
and it is printed only with --show-key. Every printed form is a template in templates/.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from glmstack.catalog import MessagesEndpoint, load_catalog
from glmstack.hostdata import InventoryError
from glmstack.plan import DeployPlan
from glmstack.templating import role_templates
from glmstack.values import url_host

FORMS = ("openai", "curl", "claude-code", "messages")
_TEMPLATES = {"openai": "openai.py.j2", "curl": "curl.sh.j2", "claude-code": "claude-code.sh.j2",
              "messages": "messages.sh.j2"}
PROMPT = "Say hello."
MAX_TOKENS = 4096  # seed 000's client examples
_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


class ClientError(InventoryError):
    """One line naming the host and what is wrong (bad HOST, a host serving no API, SSH failures)."""


@dataclass(frozen=True)
class Endpoint:
    """What clients reach: one per replica group, deployment or lone host."""

    name: str  # the group, the deployment or the host
    host: str  # the inventory host whose gateway (or engine) the settings point at
    base_url: str  # without /v1
    model: str
    engine: str
    release: str
    key_file: str | None  # on `host`, root-only; None: no key is checked
    ca_host_file: str | None  # on `host`; None: plain HTTP
    members: tuple[str, ...] = ()
    messages: MessagesEndpoint | None = None
    modes: dict[str, dict[str, Any]] = field(default_factory=dict)
    plain_mode: str | None = None
    thinking_seed: str | None = None
    notes: tuple[str, ...] = ()


def _engine_url(plan: DeployPlan) -> tuple[str, tuple[str, ...]]:
    bind = plan.config.service_bind_host
    address = plan.node_address if bind in _ANY_ADDRESS else bind
    notes = ()
    if address in ("127.0.0.1", "::1", "localhost"):
        notes = (f"{plan.engine_name} listens on {address} only: this URL works on {plan.host} itself",)
    return f"http://{url_host(address)}:{plan.port}", notes


def endpoint_of(plan: DeployPlan, catalog=None) -> Endpoint:
    catalog = catalog or load_catalog()
    release = catalog.release_for(plan.recipe)
    family = catalog.families.get(catalog.models[plan.config.model].family)
    thinking = family.thinking if family is not None else None
    engine = catalog.engines[plan.engine_name]
    modes = dict(thinking.modes) if thinking is not None and engine.chat_template_kwargs else {}
    gateway = plan.gateway  # roles/gateway: HAProxy in front (TLS, the key checked there)
    if gateway is not None:
        name = gateway.group or plan.deployment or plan.host
        base_url, notes = gateway.url, ()
        key_file, ca = gateway.key_file, gateway.ca_file
        members = tuple(gateway.members) or (plan.host,)
    else:
        name = plan.deployment or plan.host
        base_url, notes = _engine_url(plan)
        key_file, ca = (plan.api_key.key_file if plan.api_key else None), None
        members = (plan.host,)
    return Endpoint(name=name, host=plan.host, base_url=base_url, model=plan.served_model_name,
                    engine=plan.engine_name, release=release.version or "unpinned", key_file=key_file,
                    ca_host_file=ca, members=members, messages=release.messages, modes=modes,
                    plain_mode=thinking.plain if modes else None,
                    thinking_seed=thinking.seed if modes else None, notes=notes)


def select_endpoints(plans: list[DeployPlan], inventory: str, host: str | None = None) -> list[Endpoint]:
    """One endpoint per replica group, deployment or lone host; with `host`, that host's."""
    catalog = load_catalog()
    if host is not None:
        plan = next((p for p in plans if p.host == host), None)
        if plan is None:
            raise ClientError(f"host {host}: field HOST: is not in {inventory}; hosts: "
                              f"{', '.join(p.host for p in plans)}")
        if not plan.serves_api:
            head = next((p.host for p in plans if p.deployment == plan.deployment and p.serves_api), "?")
            raise ClientError(f"host {host}: field HOST: serves no API (rank {plan.rank} of deployment "
                              f"{plan.deployment}); its API is on host {head}")
        return [endpoint_of(plan, catalog)]
    endpoints: dict[str, list[Endpoint]] = {}
    for plan in plans:
        if plan.serves_api:
            endpoint = endpoint_of(plan, catalog)
            endpoints.setdefault(endpoint.name, []).append(endpoint)
    if not endpoints:
        raise ClientError(f"host {plans[0].host}: field HOST: no host of {inventory} serves an API")
    return [_with_others(members, inventory) for members in endpoints.values()]


def _with_others(members: list[Endpoint], inventory: str) -> Endpoint:
    """A replica group's block: its first member's gateway, naming the others' (each gateway has its
    own certificate, so each member's settings are its own)."""
    first, others = members[0], members[1:]
    notes = tuple(f"also served by {other.host} at {other.base_url} (its settings: glmstack client {inventory} "
                  f"{other.host})"
                  for other in others)
    return replace(first, notes=first.notes + notes)


@dataclass
class HostFiles:
    key: str | None = None
    ca_pem: str | None = None


def read_host_files(hosts: list[tuple[str, dict]], wanted: dict[str, tuple[str | None, str | None]]) -> dict[
        str, HostFiles]:
    """Each wanted host's API key and CA certificate ({host: (key_file, ca_file)}; None: not wanted),
    read over SSH by pyinfra's connectors (the host data's SSH settings and _sudo) as a fact, whose
    command names the file, never its content."""
    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra.context import ctx_config, ctx_inventory, ctx_state
    from pyinfra.facts.files import FileContents

    logging.getLogger("pyinfra").setLevel(logging.CRITICAL)  # errors are said below, one line per host
    data = dict(hosts)
    inventory = Inventory(([(name, data[name]) for name in wanted], {}))
    config = Config()
    state = State(inventory, config)
    found: dict[str, HostFiles] = {}
    with ctx_state.use(state), ctx_inventory.use(inventory), ctx_config.use(config):
        try:
            connect_all(state)
        except PyinfraError:
            pass
        try:
            for pyinfra_host in inventory:
                if pyinfra_host not in state.active_hosts:
                    raise ClientError(f"host {pyinfra_host.name}: field ssh: cannot connect over SSH; "
                                      "check ssh_hostname, ssh_user and ssh_key in its host data")
                key_file, ca_file = wanted[pyinfra_host.name]
                files = HostFiles()
                for attribute, path, what in (("key", key_file, "API key"), ("ca_pem", ca_file, "CA certificate")):
                    if path is None:
                        continue
                    lines = pyinfra_host.get_fact(FileContents, path=path)
                    if not lines:
                        raise ClientError(f"host {pyinfra_host.name}: field {what}: {path} is missing or not "
                                          "readable by the SSH user; deploy first, or set ssh_user root or _sudo")
                    setattr(files, attribute, "\n".join(lines).strip() if attribute == "key" else
                            "\n".join(lines) + "\n")
                found[pyinfra_host.name] = files
        finally:
            for pyinfra_host in inventory:
                if pyinfra_host.connected:
                    pyinfra_host.disconnect()
    return found


def ca_path(endpoint: Endpoint, directory: Path) -> Path:
    return (directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', endpoint.name)}-ca.crt").resolve()


def _bodies(endpoint: Endpoint, max_tokens: int) -> tuple[str, str]:
    messages = [{"role": "user", "content": PROMPT}]
    plain = endpoint.modes.get(endpoint.plain_mode or "", {})
    chat: dict[str, Any] = {"model": endpoint.model, "messages": messages, "max_tokens": max_tokens}
    if plain:
        chat["chat_template_kwargs"] = plain
    anthropic: dict[str, Any] = {"model": endpoint.model, "max_tokens": max_tokens, "messages": messages}
    if endpoint.messages is not None and endpoint.modes:
        anthropic.update(endpoint.messages.plain_answer)
    return json.dumps(chat), json.dumps(anthropic)


def render_forms(endpoint: Endpoint, *, inventory: str, key: str | None, ca_file: Path | None,
                 max_tokens: int = MAX_TOKENS) -> dict[str, str]:
    """Each client form's text (FORMS); `key` None: a placeholder and how to get it."""
    templates = _environment()
    chat_body, messages_body = _bodies(endpoint, max_tokens)
    context = {**{f.name: getattr(endpoint, f.name) for f in endpoint.__dataclass_fields__.values()},
               "inventory": inventory, "key": key, "ca_file": str(ca_file) if ca_file else None,
               "prompt": PROMPT, "max_tokens": max_tokens, "chat_body": chat_body, "messages_body": messages_body,
               "plain_kwargs": endpoint.modes.get(endpoint.plain_mode or "", {})}
    context["key_sh"] = templates.get_template("key.sh.j2").render(**context)
    return {form: templates.get_template(_TEMPLATES[form]).render(**context) for form in FORMS}


def render_block(endpoint: Endpoint, forms: dict[str, str], ca_file: Path | None, ca_pem: str | None = None) -> str:
    """The endpoint's whole block; `ca_pem`: the CA certificate printed in it (--print-ca)."""
    return _environment().get_template("endpoint.txt.j2").render(
        **{f.name: getattr(endpoint, f.name) for f in endpoint.__dataclass_fields__.values()},
        forms=forms, ca_file=str(ca_file) if ca_file else None, ca_pem=ca_pem)


def _environment():
    environment = role_templates(__file__)
    environment.filters["py"] = python_literal
    return environment


def python_literal(value: Any) -> str:
    """A Python literal of JSON-like data, strings in double quotes (as the seeds' snippets write them)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise TypeError(f"no Python literal for {type(value).__name__}")


def endpoint_document(endpoint: Endpoint, forms: dict[str, str], ca_file: Path | None) -> dict[str, Any]:
    document = asdict(replace(endpoint, messages=None))
    document["messages"] = endpoint.messages.model_dump() if endpoint.messages else None
    document.update(ca_file=str(ca_file) if ca_file else None, forms=forms)
    return document
