"""`glmstack plan` and `glmstack render`: what a deploy would install, without contacting any host."""

from __future__ import annotations

import builtins
import difflib
import os
import runpy
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from glmstack.ansible_inventory import ansible_inventory_hosts, is_ansible_inventory
from glmstack.catalog import load_catalog
from glmstack.checks import credentials_in_url
from glmstack.hostdata import InventoryError
from glmstack.inventory import raising_on_invalid_data
from glmstack.lock import read_lock
from glmstack.paths import DEPLOYS
from glmstack.plan import DeployPlan
from glmstack.resolve import resolve_inventory
from glmstack.uv import DEFAULT_INDEX, TORCH_BACKEND_INDEX
from roles.engine.plan import EngineEnvPlan, environment_targets
from roles.gateway.render import rendered_files as gateway_files
from roles.service.render import rendered_files
from roles.service.units import node_unit_specs


def inventory_hosts(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """Every (host, data) pair an inventory defines, in order: a pyinfra inventory (.py file) as
    pyinfra reads it, anything else (an INI or YAML file, a directory) as an Ansible inventory
    (glmstack.ansible_inventory; vaulted secrets become 0600 files this process removes at exit)."""
    if is_ansible_inventory(path):
        return [(name, data) for name, data, _ in ansible_inventory_hosts(path)]
    return pyinfra_inventory_hosts(path)


def pyinfra_inventory_hosts(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """Every (host, data) pair a pyinfra inventory file defines, in order, as pyinfra reads them:
    each public list (or (hosts, data) tuple) whose items are host names or (name, data) tuples.
    An entry of another shape is passed on for validation to name; a file that does not run is one
    line naming the file and line."""
    if not Path(path).is_file():
        raise InventoryError(f"inventory {path} does not exist")
    with raising_on_invalid_data():
        namespace = _run_inventory(Path(path))
    hosts: list[Any] = []
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        data: Any = {}
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list):
            value, data = value  # pyinfra's (hosts, group data)
        if not isinstance(value, list):
            continue
        if any(isinstance(item, list) for item in value):
            # pyinfra would ignore the whole group (with a warning) and deploy none of it.
            position = next(i for i, item in enumerate(value, start=1) if isinstance(item, list))
            raise InventoryError(f"inventory {path}: group {name}: item {position} is a list; a host is a name "
                                 "or a (name, data dict) tuple (pyinfra ignores a group holding anything else)")
        if not all(isinstance(item, (str, tuple)) for item in value):
            continue  # not a host group, for pyinfra either
        for item in value:
            if isinstance(item, str):
                hosts.append((item, dict(data) if isinstance(data, dict) else data))
            elif len(item) == 2 and isinstance(item[1], dict) and isinstance(data, dict):
                hosts.append((item[0], {**data, **item[1]}))
            else:
                hosts.append(item)
    if not hosts:
        raise InventoryError(f"inventory {path}: defines no hosts; a host group is a list of host names or "
                             "(name, data dict) tuples, such as group() returns")
    return hosts


class InventoryExited(InventoryError):
    """An inventory file that called exit() while loading: `glmstack plan` exits 2 on it."""


def _run_inventory(path: Path) -> dict[str, Any]:
    """The inventory file's namespace; an error in it (or in what it imports) as one line."""
    try:
        return runpy.run_path(str(path))
    except InventoryError:
        raise
    except SystemExit as error:  # exit(0) in an inventory would plan nothing and say nothing
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if Path(frame.filename).resolve() == path.resolve()]
        where = f", line {frames[-1].lineno}" if frames else ""
        raise InventoryExited(f"inventory {path}{where}: exited while loading (SystemExit({ascii(error.code)[:80]})); "
                              "an inventory defines hosts") from None
    except SyntaxError as error:
        inside = error.filename and Path(error.filename).resolve() != path.resolve()
        where = f": {error.filename}, line {error.lineno}" if inside else f", line {error.lineno}"
        raise InventoryError(f"inventory {path}{where}: SyntaxError: {error.msg}") from None
    except Exception as error:  # noqa: BLE001 - a file that does not run, whatever the reason
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if Path(frame.filename).resolve() == path.resolve()]
        where = f", line {frames[-1].lineno}" if frames else ""
        # As Python says it, with its hint (NameError: name 'true' is not defined. Did you mean: 'True'?).
        said = [line.strip() for line in traceback.TracebackException.from_exception(error).format_exception_only()]
        message = next((line for line in said if line), type(error).__name__).splitlines()[0][:300]
        close = difflib.get_close_matches(error.name or "", dir(builtins), n=1) if isinstance(error, NameError) else []
        if close and "Did you mean" not in message:  # Python 3.11 prints its hint itself, outside `traceback`
            message += f". Did you mean: {close[0]!r}?"
        raise InventoryError(f"inventory {path}{where}: {message}") from None


def plan_inventory(path: str | Path) -> list[DeployPlan]:
    """Resolve an inventory; sizing problems are reported in each plan rather than raised, and a model
    its lock file does not hold yet is shown as not locked."""
    return resolve_inventory(inventory_hosts(path), require_fit=False, lock=read_lock(path))


def node_role(plan: DeployPlan) -> str:
    """What this host does in its deployment, in words."""
    if plan.nodes < 2:
        return "serves alone"
    where = f"rank {plan.rank} of {plan.nodes} in deployment {plan.deployment!r}"
    if plan.rpc_worker:
        return f"RPC worker of {plan.rpc_head} ({where}): runs {plan.unit_name}, no engine, no weights"
    if plan.ray is not None and plan.rank == 0:
        return (f"Ray head ({where}): runs {plan.ray.unit_name} (GCS {plan.ray.gcs}), then serves the API once "
                f"the cluster has all {plan.nodes} nodes")
    if plan.ray is not None:
        return f"Ray worker ({where}): runs {plan.ray.unit_name}, joined to {plan.ray.gcs}; the head drives it"
    if plan.rank == 0:
        workers = f"; reaches RPC workers {', '.join(plan.rpc_workers)}" if plan.rpc_workers else ""
        return f"head ({where}): serves the API{workers}"
    return f"worker ({where}): joins the head at {plan.head_address}"


def host_document(plan: DeployPlan) -> dict[str, Any]:
    config = plan.config
    units = node_unit_specs(plan)
    return {
        "host": plan.host,
        "accelerator": config.accelerator,
        "model": config.model,
        "engine": plan.engine_name,
        "recipe": {"variant": plan.recipe_variant, "seed": plan.seed, "note": plan.recipe_note},
        "deployment": plan.deployment,
        "rank": plan.rank,
        "nodes": plan.nodes,
        "role": node_role(plan),
        "fits": plan.sizing.fits,
        "sizing": asdict(plan.sizing),
        # Known limitations of the engine release that this command runs into (catalog, with the seed).
        "limitations": [{"name": limit.name, "seed": limit.seed, "message": limit.message}
                        for limit in plan.limitations],
        "served_model_name": plan.served_model_name,
        # What clients use: the gateway's port (TLS) in front of the engine's loopback one, or the engine's.
        "port": plan.gateway.port if plan.gateway else plan.port,
        "engine_port": plan.port,
        "gateway": {"url": plan.gateway.url, "ca_file": plan.gateway.ca_file, "key_file": plan.gateway.key_file,
                    "group": plan.gateway.group, "members": list(plan.gateway.members)} if plan.gateway else None,
        "unit": f"{units[-1].name}.service",
        "installable": plan.engine_installable,
        "command": list(units[-1].argv),
        "env": dict(units[-1].environment),
        # Every unit the node runs, in start order (Ray before the engine on a Ray head).
        "units": [{"unit": f"{unit.name}.service", "command": list(unit.argv), "env": dict(unit.environment)}
                  for unit in units],
        "model_source": {"kind": plan.model.kind, "source": plan.model.source, "revision": plan.model.revision,
                         "directory": plan.model.directory, "lock": lock_state(plan)},
        "platform": _platform(plan),
        "engine_environment": engine_environment_document(plan.engine_env) if plan.engine_env else None,
    }


def lock_state(plan: DeployPlan) -> str | None:
    """What the inventory's lock file says of this host's weights, in words (None: not a hub source)."""
    parts = [part for _, part in (plan.model.graft.base, plan.model.graft.delta)] if plan.model.graft else [plan.model]
    states = []
    for part in parts:
        if part.kind not in ("hf", "modelscope"):
            continue
        if part.unlocked:
            states.append(f"{part.source}: not locked: run glmstack lock")
        elif part.locked is not None:
            states.append(f"{part.source}: locked at {part.locked.commit[:12]} ({part.locked.ref}), "
                          f"{len(part.locked.files)} files, {part.locked.total / 1e9:,.2f} GB")
        else:
            states.append(f"{part.source}: pinned by host data at {part.revision[:12] if part.revision else '?'}")
    return "; ".join(states) or None


def engine_environment_document(env: EngineEnvPlan) -> dict[str, Any]:
    """The engine environment the host builds: for which Pythons and platform, from what, and where from."""
    catalog = load_catalog()
    distributions = catalog.packages.distributions
    indexes = [{"url": DEFAULT_INDEX, "for": "every package (the host's own index configuration replaces it)"}]
    if env.torch_backend:
        indexes.append({"url": TORCH_BACKEND_INDEX.format(backend=env.torch_backend),
                        "for": f"torch and its companions (uv --torch-backend {env.torch_backend})"})
    indexes += [{"url": url, "for": "extra index"} for url in env.extra_index_urls]
    indexes += [{"url": url, "for": f"{name}'s files (not on PyPI): the host's index or an extra index must serve them"}
                for name, url in env.index_only if url not in env.extra_index_urls]
    direct = [requirement.split(" @ ", 1)[1] for requirement in env.requirements if " @ " in requirement]
    for url in [entry["url"] for entry in indexes] + direct:  # refused in host data; never shown
        if credentials_in_url(url.removeprefix("git+")):
            raise ValueError(f"{env.label}: a package source with credentials reached the plan")
    interpreters = " or ".join(sorted(set(catalog.packages.python.values())))
    return {
        "directory": env.directory,
        "python": ({"version": env.python, "from": "uv (the environment names its Python)"} if env.python else
                   {"version": "the host's", "from": f"the host's {interpreters}",
                    "by_distribution": {name: runtime.python for name, runtime in distributions.items()}}),
        "arch": env.arch,
        "targets": [{"python": target.python, "platform": target.platform,
                     "manylinux": f"manylinux_{target.glibc.replace('.', '_')}_{target.arch}"}
                    for target in environment_targets(env, catalog)],
        "requirements": list(env.requirements),
        "source_builds": list(env.source_packages),
        "build_requirements": list(env.build_requirements),
        "build_env": dict(env.build_env),
        "torch_backend": env.torch_backend,
        "index_urls": indexes,
        "direct_urls": direct,
    }


def _platform(plan: DeployPlan) -> dict[str, Any] | None:
    """What the host gets below the engine: driver, toolkit, fabric, and the engine's environment."""
    nvidia, env = plan.nvidia, plan.engine_env
    if nvidia is None:
        return None
    fabric = list(nvidia.fabricmanager_packages) + (list(nvidia.nvlink5_packages) if nvidia.nvlink5 else [])
    return {
        "repository": nvidia.repo_url,
        "driver": {"branch": nvidia.driver_branch, "version": nvidia.driver_version,
                   "packages": list(nvidia.driver_packages)},
        "cuda": {"line": nvidia.cuda_line, "toolkit": nvidia.toolkit_package},
        "fabric_if_nvswitch": fabric,
        "reboot": "allowed" if nvidia.allow_reboot else "stop and report",
        "engine_environment": {"directory": env.directory, "requirements": list(env.requirements),
                               "torch_backend": env.torch_backend} if env else None,
    }


def node_rendered_files(plan: DeployPlan) -> dict[str, tuple[str, str]]:
    """Every file the deploy installs for the node's units (the Ray unit's too), and its gateway's."""
    files = {path: rendered for unit in node_unit_specs(plan) for path, rendered in rendered_files(unit).items()}
    return {**files, **(gateway_files(plan) if plan.gateway else {})}


def write_rendered(plan: DeployPlan, out: Path) -> list[Path]:
    written = []
    for path, (content, mode) in node_rendered_files(plan).items():
        target = out / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        os.chmod(target, int(mode, 8))
        written.append(target)
    return written


def pyinfra_command(inventory: Path, json_output: bool = True, deploy: str = "glm52.py",
                    options: tuple[str, ...] = ()) -> list[str]:
    """`pyinfra -y [--json] [OPTIONS] INVENTORY deploys/<deploy>` with the pyinfra installed beside glmstack;
    an Ansible inventory as `@ansible/PATH` (glmstack.ansible_connector)."""
    command = [str(Path(sys.executable).parent / "pyinfra"), "-y", *options]
    if json_output:
        command.append("--json")
    target = f"@ansible/{Path(inventory).resolve()}" if is_ansible_inventory(inventory) else str(inventory)
    return command + [target, str(DEPLOYS / deploy)]
