"""The units the service role runs, each as a UnitSpec: what its unit and environment files say and
how the deploy tells it is ready, built from the deployment plan by one function per kind.

    engine_unit_spec(plan)      the engine (alone, a head, a headless rank, a Ray head's driver)
    rpc_worker_unit_spec(plan)  a llama.cpp RPC worker's server, which lends its node to the head
    ray_unit_spec(plan)         a node's `ray start --block`, on every node of a Ray deployment
    node_unit_specs(plan)       the units a node runs, in the order they start

The renderer (roles.service.render) reads a UnitSpec only. The plan is not imported here (the
schema imports each role's defaults): `plan` is a glmstack.config.DeployPlan.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

Plan = Any  # a glmstack.config.DeployPlan (not imported: see the module's docstring)

# How long a unit waits for the other nodes of its deployment at each start (an RPC head for its
# workers, a Ray worker for its head, the engine on a Ray head for the whole cluster) before it
# gives up (systemd restarts it); the deploy waits as long for a Ray cluster to have every node.
NODE_WAIT_SECONDS = 300

# The proxy variables the unit's environment takes from a setting (each in lower and upper case).
PROXY_SETTINGS = {"http_proxy": "base_http_proxy", "https_proxy": "base_https_proxy", "no_proxy": "base_no_proxy"}


@dataclass(frozen=True)
class StartWait:
    """An ExecStartPre the unit runs at every start, with the unit file's comment saying why. Either
    each host:port of `endpoints` must accept a connection (else after NODE_WAIT_SECONDS the start
    fails printing `failure`, printf's format: %s is the endpoint), or `argv` is run as it is."""

    why: str
    endpoints: tuple[str, ...] = ()
    failure: str = ""
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoundTo:
    """Another unit of the node this one needs, and stops and restarts with (Requires=, After=,
    PartOf=); `why`: the unit file's comment lines."""

    unit: str
    why: tuple[str, ...]


@dataclass(frozen=True)
class ClusterFirewall:
    """The deployment's own ports, which carry unauthenticated traffic: nftables rules, loaded before
    each start, let only the deployment's nodes (and this one) connect to them."""

    ports: tuple[str, ...]
    peers: tuple[str, ...]  # the deployment's nodes' addresses
    address: str  # this node's


@dataclass(frozen=True)
class AddressFilter:
    """Only these addresses may talk to the unit (systemd's IPAddressDeny=any, IPAddressAllow=);
    `why`: the unit file's comment lines."""

    allow: tuple[str, ...]
    why: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """How the deploy tells the unit is ready: "http" (`url` answers 200), "tcp" (something listens
    on `port`, the unit's server on `address`) or "active" (the unit runs: a headless rank listens on
    nothing of its own, and its `url` is the head's to be)."""

    kind: str
    port: int
    address: str
    url: str


@dataclass(frozen=True)
class UnitSpec:
    """One systemd unit of the service role: every value its unit and environment files hold, and
    what the deploy needs to run it (paths follow from the name and the two directories)."""

    name: str  # the unit is <name>.service
    # Description=, in pieces: (text, the host-data field it comes from; None for glmstack's own words).
    description: tuple[tuple[str, str | None], ...]
    argv: tuple[str, ...]  # ExecStart=
    # The environment file's variables, in order, and the host-data field each comes from (for errors).
    environment: dict[str, str]
    environment_fields: dict[str, str]
    user: str
    group: str
    config_dir: str  # base_config_dir: the environment file, the firewall rules
    state_dir: str  # base_state_dir: the unit's home is <state_dir>/home/<name>
    restart_sec: int
    address_families: tuple[str, ...]  # RestrictAddressFamilies=
    probe: Probe
    ready_timeout: int  # seconds the deploy waits for the probe after a (re)start
    supplementary_groups: tuple[str, ...] = ()  # the accelerator's device groups
    devices: tuple[str, ...] = ()  # DeviceAllow= (rw); none: PrivateDevices=yes
    hardening: tuple[tuple[str, str], ...] = ()  # the engine's own unit settings (catalog)
    writable_paths: tuple[str, ...] = ()  # beyond its home
    cann_environment: bool = False  # also the CANN environment the ascend role captured
    api_key: Any = None  # a roles.service.plan.ApiKeyPlan: the key clients must send
    firewall: ClusterFirewall | None = None
    waits: tuple[StartWait, ...] = ()
    bound_to: BoundTo | None = None
    address_filter: AddressFilter | None = None
    # The restart order of a deployment: nodes of rank > 0 first, the head (0) last.
    rank: int = 0
    # Endpoints the unit connects to at start only (llama.cpp's RPC workers): restarted when it
    # holds no connection to one of them.
    rpc_workers: tuple[str, ...] = ()
    # Also part of what the running unit must match: the weights it was started with.
    weights_fingerprint: str = ""
    # Hosts restarted in turn as one: once one fails its restart in a run, the next is not taken
    # down (its deployment, or its replica group behind the gateway).
    rollout_group: str | None = None


def service_environment(config: Any, name: str, variables: dict[str, str]) -> dict[str, str]:
    """The unit's environment: its home, the proxy settings, then the unit's own variables."""
    env = {"HOME": f"{config.base_state_dir}/home/{name}"}
    for variable, setting in PROXY_SETTINGS.items():
        value = getattr(config, setting)
        if value:
            env[variable] = value
            env[variable.upper()] = value
    env.update(variables)
    return env


def environment_fields(config: Any, env: dict[str, str]) -> dict[str, str]:
    """The host-data field each variable of `env` comes from (for errors)."""
    fields = {"HOME": "base_state_dir"}
    for variable, setting in PROXY_SETTINGS.items():
        fields[variable] = fields[variable.upper()] = setting
    fields.update(dict.fromkeys(config.extra_env, "extra_env"))
    return {name: fields.get(name, "extra_env" if name in config.extra_env else "environment") for name in env}


def _probe(plan: Plan, port: int, health_path: str | None) -> Probe:
    """As the plan's `probe`, `listen_address` and `health_url` say, for the given port and path."""
    if health_path is None:
        kind, address = "tcp", plan.node_address
    else:
        kind, address = ("http" if plan.serves_api else "active"), plan.config.service_bind_host
    return Probe(kind=kind, port=port, address=address,
                 url=f"http://127.0.0.1:{port}{health_path}" if health_path is not None else "")


def _common(plan: Plan, name: str, variables: dict[str, str]) -> dict[str, Any]:
    """What every unit of a node takes from its plan alike: user, directories, the accelerator's
    devices, the engine's sandbox."""
    config = plan.config
    env = service_environment(config, name, variables)
    return dict(
        name=name, environment=env, environment_fields=environment_fields(config, env),
        user=config.base_service_user, group=config.base_service_group, config_dir=config.base_config_dir,
        state_dir=config.base_state_dir, restart_sec=config.service_restart_sec,
        address_families=tuple(plan.address_families), supplementary_groups=tuple(plan.supplementary_groups),
        devices=tuple(plan.device_allow), hardening=tuple(plan.unit_hardening), cann_environment=bool(plan.ascend),
        rank=plan.rank, weights_fingerprint=plan.model.fingerprint,
        rollout_group=plan.deployment or config.gateway_group,
    )


def _engine_description(plan: Plan) -> tuple[tuple[str, str | None], ...]:
    return (("glmstack ", None), (plan.engine_name, "engine"), (" serving ", None),
            (plan.served_model_name, "served_model_name"), (" (recipe from seed ", None), (plan.seed, "model"),
            (")", None))


def _firewall(plan: Plan, ports: tuple[str, ...], peers: tuple[str, ...]) -> ClusterFirewall | None:
    return ClusterFirewall(ports=tuple(ports), peers=tuple(peers), address=plan.node_address) if ports else None


def ray_nodes_script(plan: Plan) -> str:
    return f"{plan.config.base_prefix}/lib/ray_nodes.py"


def ray_nodes_command(plan: Plan, python: str, wait: int = 0) -> list[str]:
    """The check that the Ray cluster has every node of the deployment (naming those it lacks)."""
    ray = plan.ray
    command = [python, ray_nodes_script(plan), "--gcs", ray.gcs, "--expect", ",".join(ray.nodes)]
    return command + (["--wait", str(wait)] if wait else [])


def rpc_workers_wait(plan: Plan) -> StartWait:
    """The RPC head's: each RPC worker accepts a connection, or the start fails naming it."""
    return StartWait(why="The model is loaded onto the RPC workers at start: each must answer first.",
                     endpoints=tuple(plan.rpc_workers), failure="RPC worker %s does not answer")


def ray_head_wait(plan: Plan) -> StartWait:
    """A Ray worker's: the head's GCS accepts a connection (after a reboot the worker may come up
    first), or the start fails saying so and systemd tries again."""
    return StartWait(why="A Ray worker joins its head: the head must answer first.",
                     endpoints=(plan.ray.gcs,), failure="the Ray head %s does not answer")


def engine_unit_spec(plan: Plan) -> UnitSpec:
    """The engine's unit: its command line and environment, its API key, its devices; on an RPC head
    it waits for the workers, with a Ray cluster it runs with Ray and waits for every node."""
    waits = [rpc_workers_wait(plan)] if plan.rpc_workers else []
    bound_to = None
    if plan.ray is not None:
        # The engine drives the cluster: it starts once the cluster has every node (after a reboot too).
        python = posixpath.join(posixpath.dirname(plan.binary), "python")
        waits.append(StartWait(why="The model is spread over the Ray cluster at start: it must have every node first.",
                               argv=tuple(ray_nodes_command(plan, python, wait=NODE_WAIT_SECONDS))))
        bound_to = BoundTo(plan.ray.unit_name, (
            "The engine drives the deployment's Ray cluster: it runs with Ray on this node, and is stopped or",
            "restarted with it."))
    return UnitSpec(
        **_common(plan, plan.unit_name, plan.serve_env),
        description=_engine_description(plan),
        argv=tuple(plan.serve_argv),
        probe=_probe(plan, plan.port, plan.health_path),
        ready_timeout=plan.ready_timeout,
        writable_paths=tuple(plan.writable_paths),
        api_key=plan.api_key,
        firewall=_firewall(plan, plan.cluster_ports, plan.cluster_peers),
        waits=tuple(waits),
        bound_to=bound_to,
        rpc_workers=tuple(plan.rpc_workers),
    )


def rpc_worker_unit_spec(plan: Plan) -> UnitSpec:
    """An RPC worker's unit: llama.cpp's RPC server in place of the engine, probed on its port, which
    only the head (and the node itself) may reach."""
    return UnitSpec(
        **_common(plan, plan.unit_name, plan.serve_env),
        description=_engine_description(plan),
        argv=tuple(plan.serve_argv),
        probe=_probe(plan, plan.port, None),
        ready_timeout=plan.ready_timeout,
        writable_paths=tuple(plan.writable_paths),
        api_key=plan.api_key,
        firewall=_firewall(plan, plan.cluster_ports, plan.cluster_peers),
        address_filter=AddressFilter(allow=(plan.rpc_head, plan.node_address, "localhost"), why=(
            "The RPC server's only client is the head (the address filter needs cgroup BPF, which containers",
            "may lack; the nftables rules above do not).")),
    )


def ray_unit_spec(plan: Plan, environment: str | None = None) -> UnitSpec:
    """The node's Ray unit: `ray start --block` from the engine's environment (or the one given),
    with the engine's environment variables and devices (Ray starts the engine's worker processes),
    probed on its port, open to the deployment's nodes."""
    ray = plan.ray
    assert ray is not None
    environment = environment or posixpath.dirname(posixpath.dirname(plan.binary))  # the engine's
    head = plan.rank == 0
    env = {name: value for name, value in plan.serve_env.items() if name != "RAY_ADDRESS"}
    if "PATH" in env:  # Ray's own environment first, as the engine's is in the engine's unit
        env["PATH"] = env["PATH"].replace(posixpath.dirname(plan.binary), posixpath.join(environment, "bin"))
    return UnitSpec(
        **_common(plan, ray.unit_name, {**env, **dict(ray.env)}),
        description=(("glmstack Ray ", None), ("head" if head else "worker", None), (" of deployment ", None),
                     (plan.deployment, "deployment"), (" (", None), (plan.engine_name, "engine"),
                     (" serving ", None), (plan.served_model_name, "served_model_name"), (")", None)),
        argv=(posixpath.join(environment, "bin", "ray"), *ray.args),
        probe=_probe(plan, ray.port if head else ray.node_manager_port, None),
        ready_timeout=NODE_WAIT_SECONDS,
        firewall=_firewall(plan, ray.ports, ray.nodes),
        waits=() if head else (ray_head_wait(plan),),
    )


def serving_unit_spec(plan: Plan) -> UnitSpec:
    """The unit the plan's host runs in place of (or as) the engine: an RPC worker's server, or the engine."""
    return rpc_worker_unit_spec(plan) if plan.rpc_worker else engine_unit_spec(plan)


def node_unit_specs(plan: Plan) -> list[UnitSpec]:
    """The units this node runs, in the order they start: Ray before the engine on a Ray head, Ray
    alone on a Ray worker."""
    if plan.ray is None:
        return [serving_unit_spec(plan)]
    return [ray_unit_spec(plan), engine_unit_spec(plan)] if plan.serves_api else [ray_unit_spec(plan)]


def as_unit_spec(unit: UnitSpec | Plan) -> UnitSpec:
    """A UnitSpec as it is; a plan as its serving unit (the engine, or an RPC worker's server), for
    callers that still pass plans (glmstack.render's functions). A node's Ray unit is only ever
    `ray_unit_spec(plan)`: no plan stands for it."""
    if isinstance(unit, UnitSpec):
        return unit
    return serving_unit_spec(unit)
