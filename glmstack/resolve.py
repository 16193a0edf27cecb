"""Host data to deploy plans: every host validated (glmstack.validate), deployments put together, each
host's plan made from its roles' planners (roles/<role>/plan.py) and the deployment's topology
(glmstack.topology), and the problems of all hosts reported together. `glmstack plan` and the deploy
both call resolve_inventory: what plan shows is what runs."""

from __future__ import annotations

import dataclasses
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmstack.bundle_weights import inventory_problems as weights_problems
from glmstack.catalog import Catalog, Engine, Parallelism, Recipe, load_catalog
from glmstack.command import effective_tunables, engine_limitations, render_serve_command
from glmstack.fill import fill
from glmstack.hostdata import HostConfig, HostDataError, InventoryError
from glmstack.plan import DeployPlan
from glmstack.shape import SAFE_LABEL, entry_problems
from glmstack.sizing import size
from glmstack.topology import (
    host_ports,
    link_fanout,
    link_weights_seeds,
    peer_address_problems,
    plan_ray,
    port_problems,
    rank_address_problems,
    roce_conflicts,
)
from glmstack.validate import validated_host
from glmstack.values import host_port
from glmstack.vendor_bundle import inventory_problems
from roles.amd.plan import AmdPlan, plan_amd
from roles.ascend.plan import AscendPlan, plan_ascend
from roles.engine.plan import EngineEnvPlan, engine_requirement_problems, plan_engine_env
from roles.gateway.plan import engine_side, group_problems, link_gateway_groups, plan_gateway
from roles.llamacpp.plan import LlamaCppPlan, plan_llamacpp
from roles.model.plan import plan_model
from roles.nvidia.plan import NvidiaPlan, plan_nvidia
from roles.service.plan import plan_api_key
from roles.service.render import FINGERPRINT_VARIABLE
from roles.service.units import PROXY_SETTINGS, serving_unit_spec

if TYPE_CHECKING:
    from glmstack.lock import Lock


def engine_environment(plan: DeployPlan, arch: str | None = None,
                       catalog: Catalog | None = None) -> EngineEnvPlan | None:
    """The plan's engine environment as made on a host of CPU architecture `arch` (None: the plan's)."""
    catalog = catalog or load_catalog()
    ray = catalog.engines[plan.config.engine].ray if plan.ray else None
    extra = [fill([ray.requirement], {"version": ray.version})[0]] if ray else []
    return plan_engine_env(plan.config, catalog, plan.nvidia, plan.amd, plan.ascend, extra_requirements=extra,
                            arch=arch)


def _alternatives(config: HostConfig, catalog: Catalog) -> list[str]:
    """Smaller checkpoints of the same family with a recipe on this accelerator."""
    model = catalog.models[config.model]
    smaller = {r.model for r in catalog.recipes if r.accelerator == config.accelerator
               and catalog.models[r.model].family == model.family and r.model != config.model
               and (catalog.models[r.model].weights_gb or 0) < (model.weights_gb or 0)}
    return [f"{name} ({catalog.models[name].weights_gb:,.0f} GB)" for name in sorted(smaller)]


def _node_count_problem(config: HostConfig, catalog: Catalog, recipe: Recipe, nodes: int,
                        deployment: str | None) -> str:
    """Why the recipe's node count is needed: the sizing on the nodes given, when it does not fit."""
    accelerator = catalog.accelerators[config.accelerator]
    tp = min(recipe.parallel.tensor_parallel_size or accelerator.devices_per_node, accelerator.devices_per_node)
    on_given_nodes = size(config.model, catalog.models[config.model], config.accelerator, accelerator,
                          Parallelism(nodes=nodes, tensor_parallel_size=tp, pipeline_parallel_size=nodes),
                          nodes, effective_tunables(config, recipe), explicit_max_model_len=False,
                          alternatives=_alternatives(config, catalog))
    where = (f"deployment {deployment!r} has {nodes} host{'s' if nodes > 1 else ''}" if deployment
             else "this host serves alone (no deployment)")
    reason = f"{on_given_nodes.problems[0]}; " if on_given_nodes.problems else ""
    return (f"{reason}the recipe for {config.model} with {config.engine} on {config.accelerator} runs on "
            f"{recipe.parallel.nodes} nodes sharing a deployment, and {where}")


def _engine_binary(config: HostConfig, engine: Engine, llamacpp: LlamaCppPlan | None,
                   engine_env: EngineEnvPlan | None) -> str:
    """The engine's program: in its llama.cpp build, its Python environment, or (an engine not
    installed here) where the operator put it."""
    if llamacpp:
        return posixpath.join(llamacpp.install_dir, engine.binary)
    if engine_env:
        return posixpath.join(engine_env.directory, engine.binary)
    return posixpath.join(config.base_prefix, "venvs", config.engine, engine.binary)


def _engine_environment(config: HostConfig, recipe: Recipe, engine: Engine, binary: str, multinode: bool,
                        address: str, nvidia: NvidiaPlan | None, amd: AmdPlan | None,
                        ascend: AscendPlan | None) -> dict[str, str]:
    """The engine unit's environment as glmstack renders it (extra_env comes on top): the engine's,
    the vendor stack's, the recipe's, and on a multi-node deployment the recipe's per-node values."""
    env = dict(engine.env)
    if nvidia:
        # DeepGEMM and Triton compile kernels at run time with the toolkit's nvcc and headers.
        env["CUDA_HOME"] = nvidia.cuda.home
        env["PATH"] = f"{nvidia.cuda.home}/bin:{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    if amd:
        # AITER JIT-compiles kernels; its cache lives in the engine's home, which survives restarts.
        env["AITER_JIT_DIR"] = posixpath.join(config.base_state_dir, "home", engine.unit_name, "aiter-jit")
        env["PATH"] = f"/opt/rocm/bin:{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    if ascend:
        # CANN's own directories come first from its captured environment (the ascend role).
        env["PATH"] = f"{posixpath.dirname(binary)}:/usr/sbin:/usr/bin:/sbin:/bin"
    env.update(recipe.env)
    if multinode:
        env.update({k: fill([v], {"address": address, "interface": config.network_interface})[0]
                    for k, v in recipe.multinode_env.items()})
    return env


def _plan_host(host: str, config: HostConfig, recipe: Recipe, catalog: Catalog, rank: int, peers: list[str],
               deployment: str | None, lock: Lock | None = None) -> DeployPlan:
    problems: list[tuple[str, str]] = []
    nodes = len(peers)
    interface_needed = nodes > 1 and any("{interface}" in value for value in recipe.multinode_env.values())
    if interface_needed and not config.network_interface:
        problems.append(("network_interface", "a multi-node deployment needs the NIC for collective traffic"))
    # The gateway (on by default where the API is served) takes the host's port; the engine behind
    # it listens on loopback on a port of its own, and is planned with those settings.
    rpc = catalog.engines[config.engine].rpc_worker if nodes > 1 else None
    ray = catalog.engines[config.engine].ray if nodes > 1 and recipe.cluster == "ray" else None
    problems += peer_address_problems(peers, rpc, deployment)
    problems += port_problems(config, catalog.engines[config.engine], nodes, rpc, ray)
    gateway_plan = plan_gateway(host, config, catalog, problems, rank,
                                other_ports=host_ports(config, catalog.engines[config.engine], nodes, rpc, ray),
                                recipe_port=recipe.port)
    if gateway_plan is not None:
        config = engine_side(config, gateway_plan)
    model_plan = plan_model(config, catalog, problems, lock)
    llamacpp_plan = plan_llamacpp(config, catalog, problems, rpc) if config.engine == "llama.cpp" else None
    nvidia_plan = plan_nvidia(config, catalog, problems)
    amd_plan = plan_amd(config, catalog, problems)
    ascend_plan = plan_ascend(config, catalog, problems, nodes)
    # Only the head serves the API; the other nodes of a deployment lend it their devices.
    # Behind the gateway the engine takes no key: the gateway checks it.
    api_key_plan = plan_api_key(config, catalog, problems) if rank == 0 and gateway_plan is None else None
    if problems or model_plan is None:
        raise HostDataError(host, problems)
    ray_requirement = [fill([ray.requirement], {"version": ray.version})[0]] if ray else []
    engine_env = plan_engine_env(config, catalog, nvidia_plan, amd_plan, ascend_plan,
                                  extra_requirements=ray_requirement)
    problems += engine_requirement_problems(config, catalog, engine_env)
    if problems:
        raise HostDataError(host, problems)

    engine = catalog.engines[config.engine]
    binary = _engine_binary(config, engine, llamacpp_plan, engine_env)
    head = peers[0]
    address = config.address or host
    bare_env = _engine_environment(config, recipe, engine, binary, nodes > 1, address, nvidia_plan, amd_plan,
                                   ascend_plan)  # what glmstack renders, before extra_env
    env = {**bare_env, **config.extra_env}
    tunables = effective_tunables(config, recipe)
    sizing = size(config.model, catalog.models[config.model], config.accelerator,
                  catalog.accelerators[config.accelerator], recipe.parallel, nodes, tunables,
                  explicit_max_model_len="max_model_len" in tunables, alternatives=_alternatives(config, catalog),
                  cap_option=engine.flags.get("max_model_len", [None])[0], auto_value=engine.max_model_len_auto,
                  caps_itself=engine.caps_context_itself)
    serve_argv = render_serve_command(config, catalog, recipe, binary, model_plan.entry_path, rank=rank,
                                      nodes=nodes, head=head, workers=peers[1:],
                                      max_model_len=sizing.max_model_len_rendered)
    limitations = engine_limitations(config, catalog, recipe, serve_argv)
    unit_name, port, health_path, rpc_head = (engine.unit_name, config.port or engine.default_port,
                                              engine.health_path, None)
    cluster_ports, cluster_peers = (tuple(engine.multinode_ports), tuple(peers)) if nodes > 1 else ((), ())
    if rpc and rank > 0:
        # This node lends its CPU and memory to the head: the RPC server instead of the engine.
        unit_name, port, health_path, rpc_head = rpc.unit_name, rpc.port, None, head
        serve_argv = [binary.removesuffix(engine.binary) + rpc.binary,
                      *fill(rpc.args, {"address": address, "port": rpc.port})]
        cluster_ports, cluster_peers = (str(rpc.port),), (head,)
    elif rpc:
        cluster_ports, cluster_peers = (), ()  # the head connects out; its API port is the engine's
    ray_plan = plan_ray(config, ray, address, head, peers) if ray else None
    writable_paths: tuple[str, ...] = ()
    if ray_plan:
        # The engine joins the cluster as a driver; Ray, not the engine, listens for the nodes.
        env["RAY_ADDRESS"] = bare_env["RAY_ADDRESS"] = ray_plan.gcs
        cluster_ports, writable_paths = (), (ray_plan.temp_dir,)
    plan = DeployPlan(
        host=host,
        config=config,
        model=model_plan,
        engine_name=config.engine,
        engine_installable=engine.installable or engine_env is not None,
        unit_name=unit_name,
        binary=binary,
        port=port,
        served_model_name=config.served_model_name or config.model,
        health_path=health_path,
        serve_argv=tuple(serve_argv),
        sizing=sizing,
        accelerator=catalog.accelerators[config.accelerator],
        recipe=recipe,
        serve_env=env,
        unit_hardening=tuple(engine.unit_hardening.items()),
        address_families=tuple(engine.address_families),
        deployment=deployment,
        rank=rank,
        nodes=nodes,
        head_address=head if nodes > 1 else None,
        llamacpp=llamacpp_plan,
        nvidia=nvidia_plan,
        amd=amd_plan,
        ascend=ascend_plan,
        engine_env=engine_env,
        api_key=api_key_plan,
        gateway=gateway_plan,
        ready_timeout=config.service_ready_timeout or engine.ready_timeout,
        rpc_head=rpc_head,
        rpc_workers=tuple(host_port(worker, rpc.port) for worker in peers[1:]) if rpc and rank == 0 else (),
        ray=ray_plan,
        cluster_ports=cluster_ports,
        cluster_peers=cluster_peers,
        writable_paths=writable_paths,
        limitations=limitations if serve_argv[0] == binary else (),
    )
    problems += _extra_env_problems(config.extra_env, dataclasses.replace(
        plan, config=config.model_copy(update={"extra_env": {}}), serve_env=bare_env))
    if problems:
        raise HostDataError(host, problems)
    return plan


# Variables that make the engine's interpreter or loader run other code (preloaded libraries,
# start-up scripts, module paths): never taken from extra_env.
CODE_INJECTING_ENV = ("LD_PRELOAD", "LD_AUDIT", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "BASH_ENV", "ENV",
                      "PERL5OPT", "NODE_OPTIONS")


def _extra_env_problems(extra_env: dict[str, str], bare: DeployPlan) -> list[tuple[str, str]]:
    """extra_env adds variables: none glmstack sets itself in the unit's environment (from a setting
    or the catalog; `bare` is the plan without extra_env), none that injects code."""
    problems = []
    fields = {name: "the catalog" if source == "environment" else source
              for name, source in serving_unit_spec(bare).environment_fields.items()}
    for name, setting in PROXY_SETTINGS.items():  # set whenever the setting is, so never here
        fields.setdefault(name, setting)
        fields.setdefault(name.upper(), setting)
    fields[FINGERPRINT_VARIABLE] = "the deployed configuration"
    if bare.ray is not None:  # the Ray unit's environment: the engine's, and Ray's own
        fields.update(dict.fromkeys(dict(bare.ray.env), "the catalog (Ray)"))
        fields.setdefault("RAY_ADDRESS", "the Ray cluster")
    taken = [name for name in extra_env if name in fields]
    if taken:
        problems.append(("extra_env", "set by glmstack: " + ", ".join(f"{name} (from {fields[name]})" for name in taken)
                         + "; allowed: variables glmstack does not set (change the setting named instead)"))
    injecting = [name for name in extra_env if name in CODE_INJECTING_ENV]
    if injecting:
        problems.append(("extra_env", f"{', '.join(injecting)} would make the engine load or run other code; "
                                      f"allowed: variables other than {', '.join(CODE_INJECTING_ENV)}"))
    return problems


def resolve_inventory(hosts: list[tuple[str, dict[str, Any]]], catalog: Catalog | None = None,
                      require_fit: bool = True, lock: Lock | None = None) -> list[DeployPlan]:
    """Validate and resolve every host, deployments together; report all problems of all hosts at once.
    `lock`: the inventory's lock file (glmstack.lock), which pins hub sources host data does not."""
    catalog = catalog or load_catalog()
    errors: list[str] = []
    validated: dict[str, tuple[HostConfig, Recipe]] = {}
    # Entries that are not (host name, data dict) pairs, and hosts listed twice, are refused here.
    hosts, errors = entry_problems(hosts)
    hosts_data = dict(hosts)
    for name, data in hosts:
        try:
            validated[name] = validated_host(name, data, catalog)
        except HostDataError as error:
            errors.append(str(error))
        except OSError as error:  # a file the data names (a secret, a manifest) that cannot be read
            errors.append(str(HostDataError(name, [_unreadable_file(data, error)])))

    members: dict[str, list[str]] = {}
    for name, (config, _) in validated.items():
        if config.deployment:
            members.setdefault(config.deployment, []).append(name)
    for deployment, names in members.items():
        first = validated[names[0]][0]
        for name in names[1:]:
            config = validated[name][0]
            for key in ("accelerator", "model", "engine", "recipe_variant"):
                if getattr(config, key) != getattr(first, key):
                    errors.append(f"host {name}: field {key}: deployment {deployment!r} serves one model: "
                                  f"{getattr(first, key)!r} as on {names[0]} (rank 0)")

    errors += rank_address_problems(validated, members)
    errors += group_problems(validated)
    plans = []
    if not errors:
        # Each deployment (or lone host) must have as many nodes as its recipe: said once, on rank 0.
        for names in [*members.values(), *([n] for n, (c, _) in validated.items() if not c.deployment)]:
            config, recipe = validated[names[0]]
            if recipe.parallel.nodes != len(names):
                problem = _node_count_problem(config, catalog, recipe, len(names), config.deployment)
                errors.append(str(HostDataError(names[0], [("deployment", problem)])))
    if not errors:
        for name, (config, recipe) in validated.items():
            peers = members[config.deployment] if config.deployment else [name]
            addresses = [validated[p][0].address or p for p in peers]
            try:
                plan = _plan_host(name, config, recipe, catalog, peers.index(name), addresses, config.deployment,
                                  lock)
            except HostDataError as error:
                errors.append(str(error))
                continue
            except OSError as error:
                errors.append(str(HostDataError(name, [_unreadable_file(hosts_data[name], error)])))
                continue
            if require_fit and plan.sizing.problems:
                errors.extend(f"host {name}: does not fit: {problem}" for problem in plan.sizing.problems)
            plans.append(plan)
    if not errors:
        errors = roce_conflicts(plans)
    if not errors:
        plans, errors = link_weights_seeds(plans, members)
        plans = link_fanout(plans)
    if not errors:
        plans = link_gateway_groups(plans)
    if not errors:
        errors = _unrepresentable(plans)
    if not errors:
        errors = inventory_problems(plans)  # a bundle's vendor part: what these hosts install from it
        errors += weights_problems(plans)  # and its weights: exactly those host data (or the lock) pins
    if errors:
        raise InventoryError("\n".join(errors))
    return plans


def _unrepresentable(plans: list[DeployPlan]) -> list[str]:
    """Every file and command the deploy makes from host data, made once: a value its syntax cannot
    hold (glmstack.quoting) is refused here, before any host is contacted."""
    from glmstack.hostfiles import problems  # it imports the roles, which import this module

    return [str(HostDataError(plan.host, found)) for plan in plans if (found := problems(plan))]


def resolve(host: str, data: dict[str, Any], catalog: Catalog | None = None) -> DeployPlan:
    """One host serving alone; raises HostDataError naming the host."""
    try:
        return resolve_inventory([(host, data)], catalog)[0]
    except InventoryError as error:
        raise _as_host_error(host, error) from None


def _unreadable_file(data: dict[str, Any], error: OSError) -> tuple[str, str]:
    """The setting naming a file that cannot be read, and why (the path itself is not repeated)."""
    def names(value: Any) -> bool:
        values = value if isinstance(value, list) else [value]
        return any(str(item) == str(error.filename) for item in values if isinstance(item, (str, Path)))
    field = next((key for key, value in data.items() if names(value)), "(data)")
    return field, f"the file cannot be read ({error.strerror}); allowed: a path to a readable file"


def _as_host_error(host: str, error: InventoryError) -> HostDataError:
    """The same problems, for one host, as (field, message) pairs; sizing problems under 'sizing'."""
    problems = []
    for line in str(error).splitlines():
        rest = line.split(": ", 1)[1]  # after "host <name>", which has no ": " in it
        where, _, message = rest.partition(": ")
        problems.append((where.removeprefix("field "), message) if where.startswith("field ") else
                        ("sizing", rest.removeprefix("does not fit: ")))
    return HostDataError(host if isinstance(host, str) and SAFE_LABEL.fullmatch(host) else "#1", problems)


def validate_inventory(hosts: list[tuple[str, dict[str, Any]]], lock: Lock | None = None) -> list[DeployPlan]:
    """Resolve every host; report the problems of all hosts together."""
    return resolve_inventory(hosts, lock=lock)
