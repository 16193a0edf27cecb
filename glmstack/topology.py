"""A deployment's nodes together: ranks and their addresses, the ports they reach each other on, the
Ray cluster, llama.cpp's RPC workers, the NPUs' RoCE subnet, and which node passes the weights on
to which. Per host, glmstack.resolve asks it for the ports' and the Ray plan; across hosts, for the
problems no single host's data shows."""

from __future__ import annotations

import dataclasses
import posixpath
from typing import TYPE_CHECKING

from glmstack.checks import is_ip_address, normal_address
from glmstack.fill import fill
from glmstack.hostdata import HostDataError
from glmstack.plan import RayPlan
from glmstack.shape import ip_address_of
from glmstack.values import is_ipv6, url_host
from roles.model.fanout import FanoutPlan, LlamaCppSource

if TYPE_CHECKING:
    from glmstack.catalog import Engine, RayCluster, Recipe, RpcWorker
    from glmstack.hostdata import HostConfig
    from glmstack.plan import DeployPlan
    from roles.engine.plan import EngineEnvPlan
    from roles.llamacpp.plan import LlamaCppPlan


def roce_conflicts(plans: list[DeployPlan]) -> list[str]:
    """Across the nodes of each deployment (a lone host on its own): no RoCE address twice, none a
    node's own address, and one subnet, as glmstack sets no RoCE gateway. One line per host and kind."""
    errors: list[str] = []
    groups: dict[str, list[DeployPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.deployment or f"host {plan.host}", []).append(plan)
    for members in groups.values():
        members = sorted(members, key=lambda plan: plan.rank)
        nodes = {normal_address(plan.node_address): plan.host for plan in members}
        taken: dict[str, tuple[str, int]] = {}
        head = next((plan for plan in members if plan.ascend and plan.ascend.roce_addresses), None)
        for plan in members:
            if plan.ascend is None or not plan.ascend.roce_addresses:
                continue
            problems = []
            management = [(npu, address) for npu, address in enumerate(plan.ascend.roce_addresses) if address in nodes]
            if management:
                npu, address = management[0]
                whose = "this host's" if nodes[address] == plan.host else f"{nodes[address]}'s"
                problems.append(f"{address} (NPU {npu}) is {whose} own address (address); the NPUs' RoCE ports "
                                "need addresses of their own")
            again = [(npu, address) for npu, address in enumerate(plan.ascend.roce_addresses) if address in taken]
            if again:
                npu, address = again[0]
                other, other_npu = taken[address]
                problems.append(f"{address} (NPU {npu}) is already NPU {other_npu}'s on {other}; every NPU of "
                                f"deployment {plan.deployment!r} needs an address of its own")
            for npu, address in enumerate(plan.ascend.roce_addresses):
                taken.setdefault(address, (plan.host, npu))
            if head is not None and plan is not head and plan.ascend.roce_subnet != head.ascend.roce_subnet:
                problems.append(f"this node's RoCE subnet is {plan.ascend.roce_subnet}; {head.host} (rank "
                                f"{head.rank}) has {head.ascend.roce_subnet}: glmstack sets no RoCE gateway, so "
                                "a deployment's NPUs share one subnet")
            errors += [str(HostDataError(plan.host, [("ascend_roce_addresses", problem)])) for problem in problems]
    return errors


def _ports(ports: list[str] | tuple[str, ...]) -> set[int]:
    """Catalog port lists ("6379", "10002-10999") as the ports they name."""
    named: set[int] = set()
    for entry in ports:
        low, _, high = str(entry).partition("-")
        named.update(range(int(low), int(high or low) + 1))
    return named


def peer_address_problems(peers: list[str], rpc: RpcWorker | None, deployment: str | None) -> list[tuple[str, str]]:
    """A multi-node deployment's nodes are given by IP address (its node filter lets in only them),
    and llama.cpp's RPC workers by IPv4 address."""
    problems = []
    if len(peers) > 1 and not all(is_ip_address(peer) for peer in peers):
        problems.append(("address", f"the nodes of a deployment let in each other only, by IP address: give each "
                                    f"host of deployment {deployment!r} its IP address (address), or list the "
                                    "hosts by IP"))
    if rpc and any(is_ipv6(peer) for peer in peers):
        problems.append(("address", "llama.cpp's RPC client splits worker:port at the first ':' (ggml-rpc.cpp "
                                    "parse_endpoint), so it cannot reach a worker by IPv6 address; allowed: IPv4 "
                                    f"addresses for the nodes of deployment {deployment!r}"))
    return problems


def port_problems(config: HostConfig, engine: Engine, nodes: int, rpc: RpcWorker | None,
                   ray: RayCluster | None) -> list[tuple[str, str]]:
    """The API port and the weights share's are none of the deployment's other ports, nor each other:
    (several nodes) the cluster's, which the node filter opens to the deployment's nodes only
    (catalog engines.yaml)."""
    api, share = config.port or engine.default_port, config.model_share_port
    cluster: tuple[str, set[int]] | None = None
    if nodes > 1 and ray:
        named = [str(ray.port), str(ray.node_manager_port), *ray.ports]
        cluster = f"Ray's cluster ports ({', '.join(named)})", _ports(named)
    elif nodes > 1 and rpc:
        cluster = f"the llama.cpp RPC workers' port ({rpc.port})", {rpc.port}
    elif nodes > 1:
        cluster = (f"{config.engine}'s cluster ports ({', '.join(engine.multinode_ports)})",
                   _ports(engine.multinode_ports))
    allowed = "which this deployment uses for another purpose; allowed: a port none of them uses"
    if api == share:
        field = "port" if config.port is not None else "model_share_port"
        return [(field, f"the API port {api} is also model_share_port ({share}), {allowed}")]
    if cluster and api in cluster[1]:
        return [("port", f"the API port {api} is also one of {cluster[0]}, {allowed}")]
    if cluster and share in cluster[1]:
        return [("model_share_port", f"{share} is also one of {cluster[0]}, {allowed}")]
    packages = config.model_packages_port
    taken = [(api, "the API port"), (share, "model_share_port"), *([(0, cluster[0])] if cluster else [])]
    for port, what in taken:
        if packages == port or (port == 0 and cluster and packages in cluster[1]):
            return [("model_packages_port", f"{packages} is also {what if port else 'one of ' + what}, {allowed}")]
    return []


def host_ports(config: HostConfig, engine: Engine, nodes: int, rpc: RpcWorker | None,
               ray: RayCluster | None) -> dict[int, str]:
    """The ports this host uses besides the API's, each with what it is (the gateway's own ports
    must be none of them)."""
    ports = {config.model_share_port: "model_share_port"}
    named = ([str(ray.port), str(ray.node_manager_port), *ray.ports] if nodes > 1 and ray else
             [str(rpc.port)] if nodes > 1 and rpc else list(engine.multinode_ports) if nodes > 1 else [])
    ports.update(dict.fromkeys(_ports(named), "one of the deployment's cluster ports"))
    return ports


def plan_ray(config: HostConfig, ray: RayCluster, address: str, head: str, peers: list[str]) -> RayPlan:
    temp_dir = posixpath.join(config.base_state_dir, "home", ray.unit_name, "tmp")
    values = {"address": address, "head": head, "head_host": url_host(head), "port": ray.port,
              "temp_dir": temp_dir, "node_manager_port": ray.node_manager_port}
    return RayPlan(
        unit_name=ray.unit_name,
        head=head,
        port=ray.port,
        nodes=tuple(peers),
        args=tuple(fill(ray.head_args if address == head else ray.worker_args, values)),
        env=tuple((name, fill([value], values)[0]) for name, value in ray.env.items()),
        temp_dir=temp_dir,
        version=ray.version,
        node_manager_port=ray.node_manager_port,
        ports=tuple(ray.ports),
    )


def ray_environment(plan: DeployPlan) -> EngineEnvPlan:
    """Ray alone, in an environment of its own: forms the cluster before (or without) the engine."""
    assert plan.ray is not None and plan.engine_env is not None
    env = plan.engine_env
    return dataclasses.replace(
        env, engine="ray", version=plan.ray.version, requirements=(f"ray=={plan.ray.version}",), torch_backend=None,
        system_packages=("python3-venv",), extra_index_urls=(), python=None, build_env=(),
        version_check=("bin/ray", "--version"), version_check_needs_gpu=False, imports=("ray",), gpu_imports=(),
        build=None, source_files=())


def _weights_seed_problem(plan: DeployPlan, seed: DeployPlan | None, hosts: list[str]) -> str | None:
    chosen = plan.config.model_fetch_from
    if seed is None:
        return f"{chosen!r} is not a host of this inventory; hosts: {', '.join(hosts)}"
    if seed.config.model_fetch_from not in (None, seed.host):
        return (f"{seed.host} gets its weights from {seed.config.model_fetch_from} itself; name the host that "
                "fetches them from the source")
    if seed.model.fingerprint != plan.model.fingerprint:
        return f"{seed.host} fetches other weights (model, source, revision, files or directory differ)"
    if plan.model.kind == "path":
        return "the weights are a path on the host (model_source); there is nothing to pass on"
    return None


def link_weights_seeds(plans: list[DeployPlan], members: dict[str, list[str]]) -> tuple[list[DeployPlan], list[str]]:
    """Which host fetches the weights from the source for which others, who receive them from it over
    the lab network: named by model_fetch_from, or by default a deployment's rank 0."""
    by_name = {plan.host: plan for plan in plans}
    errors, seed_of = [], {}
    for plan in plans:
        chosen = plan.config.model_fetch_from
        if plan.rpc_worker:
            continue  # the head holds the weights; an RPC worker is sent only tensors
        if chosen is None and plan.deployment and plan.nodes > 1 and plan.model.kind not in ("path", "graft"):
            chosen = members[plan.deployment][0]
        if chosen is None or chosen == plan.host:
            continue
        problem = _weights_seed_problem(plan, by_name.get(chosen), list(by_name))
        if problem:
            errors.append(f"host {plan.host}: field model_fetch_from: {problem}")
        else:
            seed_of[plan.host] = chosen
    peers_of: dict[str, list[str]] = {}
    for name, seed in seed_of.items():
        peers_of.setdefault(seed, []).append(name)

    def address(name: str) -> str:
        return by_name[name].config.address or name

    linked = [dataclasses.replace(plan, weights_seed=address(seed_of[plan.host]) if plan.host in seed_of else None,
                                  weights_seed_host=seed_of.get(plan.host),
                                  weights_peers=tuple((name, address(name)) for name in peers_of.get(plan.host, [])))
              for plan in plans]
    return linked, errors


def rank_address_problems(validated: dict[str, tuple[HostConfig, Recipe]], members: dict[str, list[str]]) -> list[str]:
    """The nodes of a multi-node deployment each have an address of their own that the others can
    reach: two ranks on one address would each start a head (a second Ray head, say)."""
    errors = []
    for deployment, names in members.items():
        if len(names) < 2:
            continue
        seen: dict[str, str] = {}
        for rank, name in enumerate(names):
            address = validated[name][0].address or name
            normal = normal_address(address)
            ip = ip_address_of(normal)
            if ip is not None and (ip.is_loopback or ip.is_unspecified or ip.is_multicast):
                errors.append(f"host {name}: field address: {address} (rank {rank}) is not an address the other "
                              f"nodes of deployment {deployment!r} can reach; allowed: this node's own IP address")
            elif normal in seen:
                errors.append(f"host {name}: field address: {address} (rank {rank}) is already {seen[normal]}'s; "
                              f"each node of deployment {deployment!r} needs an address of its own")
            seen.setdefault(normal, f"{name} (rank {rank})")
    return errors


def fanout_root(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_state_dir, "downloads")


def python_set(plan: DeployPlan) -> EngineEnvPlan | None:
    """The engine environment installed from a wheelhouse: one whose packages are all wheels or
    sdists the lock names (not one built here from source against itself)."""
    env = plan.engine_env
    if env is None or env.source_packages or env.build is not None:
        return None
    return env


def llamacpp_source(llamacpp: LlamaCppPlan | None) -> LlamaCppSource | None:
    if llamacpp is None:
        return None
    return LlamaCppSource(llamacpp.source_kind, llamacpp.source, llamacpp.version, llamacpp.source_sha256)


def link_fanout(plans: list[DeployPlan]) -> list[DeployPlan]:
    """Once per lab (roles/model/fanout.py): every host that gets its weights from another (and the
    one passing them on) gets the rest of its downloads from it too, unless that host's
    model_fetch_packages is False (or this host's)."""
    by_name = {plan.host: plan for plan in plans}
    linked = []
    for plan in plans:
        seed = by_name[plan.weights_seed_host] if plan.weights_seed_host else plan if plan.weights_peers else None
        # A host deployed from a bundle (host data's bundle) takes everything from it instead.
        if seed is None or not (seed.config.model_fetch_packages and plan.config.model_fetch_packages) \
                or seed.config.bundle or plan.config.bundle:
            linked.append(plan)
            continue
        members = [seed, *(by_name[name] for name, _ in seed.weights_peers
                           if by_name[name].config.model_fetch_packages and not by_name[name].config.bundle)]
        if not any(python_set(member) or member.llamacpp for member in members):
            linked.append(plan)  # nothing to fetch but the weights
            continue
        fanout = FanoutPlan(
            seed_host=seed.host, seed_address=seed.node_address, port=seed.config.model_packages_port,
            root=fanout_root(seed), arch=(plan.engine_env.arch if plan.engine_env else plan.accelerator_cpu_arch[0]),
            timeout=plan.config.model_fetch_from_timeout, python_set=python_set(plan),
            llamacpp=llamacpp_source(plan.llamacpp))
        if plan is seed:
            sets = {env.install_key: env for env in (python_set(member) for member in members) if env}
            sources = {source.part: source for source in (llamacpp_source(m.llamacpp) for m in members) if source}
            fanout = dataclasses.replace(fanout, python_sets=tuple(sets.values()),
                                         llamacpp_sources=tuple(sources.values()),
                                         peers=tuple((m.host, m.node_address) for m in members[1:]),
                                         members=tuple((m.host, python_set(m), m.llamacpp) for m in members))
        linked.append(dataclasses.replace(plan, fanout=fanout))
    return linked
