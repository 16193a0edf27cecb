"""The resolved plan of one host (DeployPlan): its settings, every role's narrow plan, and its place in
its deployment. glmstack.resolve makes it; the roles read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from glmstack.values import host_port

if TYPE_CHECKING:
    from glmstack.catalog import Accelerator, EngineLimitation, Recipe
    from glmstack.hostdata import HostConfig
    from glmstack.sizing import Sizing
    from roles.amd.plan import AmdPlan
    from roles.ascend.plan import AscendPlan
    from roles.engine.plan import EngineEnvPlan
    from roles.gateway.plan import GatewayPlan
    from roles.llamacpp.plan import LlamaCppPlan
    from roles.model.fanout import FanoutPlan
    from roles.model.plan import ModelPlan
    from roles.nvidia.plan import NvidiaPlan
    from roles.service.plan import ApiKeyPlan


@dataclass(frozen=True)
class RayPlan:
    """This node's part in its deployment's Ray cluster (its unit is roles.service.units.ray_unit_spec(plan))."""

    unit_name: str
    head: str  # the head's address
    port: int  # the head's GCS port
    nodes: tuple[str, ...]  # every node's address, the head first
    args: tuple[str, ...]  # after the `ray` binary
    env: tuple[tuple[str, str], ...]
    temp_dir: str  # sessions, sockets and logs: the engine on the head reaches Ray through it
    version: str
    node_manager_port: int  # every node's raylet: what tells a node's Ray is up
    ports: tuple[str, ...]

    @property
    def gcs(self) -> str:
        return host_port(self.head, self.port)


@dataclass(frozen=True)
class DeployPlan:
    host: str
    config: HostConfig
    model: ModelPlan
    engine_name: str
    engine_installable: bool
    unit_name: str
    binary: str
    port: int
    served_model_name: str
    health_path: str | None  # None: probed by a TCP connection to listen_address:port
    serve_argv: tuple[str, ...]
    sizing: Sizing
    # The catalog's entries, embedded rather than copied field by field (the properties below keep
    # the names the roles and templates read).
    accelerator: Accelerator
    recipe: Recipe
    serve_env: dict[str, str] = field(default_factory=dict)
    unit_hardening: tuple[tuple[str, str], ...] = ()
    address_families: tuple[str, ...] = ("AF_UNIX", "AF_INET", "AF_INET6")
    deployment: str | None = None
    rank: int = 0
    nodes: int = 1
    head_address: str | None = None
    llamacpp: LlamaCppPlan | None = None
    nvidia: NvidiaPlan | None = None
    amd: AmdPlan | None = None
    ascend: AscendPlan | None = None
    engine_env: EngineEnvPlan | None = None
    api_key: ApiKeyPlan | None = None
    # HAProxy in front of the engine (roles/gateway): what clients reach; None: the engine itself.
    gateway: GatewayPlan | None = None
    # Weights passed on over the lab network: the host this one gets them from (its address, and
    # its inventory name), or the hosts this one passes them to (inventory name, address).
    weights_seed: str | None = None
    weights_seed_host: str | None = None
    weights_peers: tuple[tuple[str, str], ...] = ()
    # The rest of what the host downloads from outside, from the host passing the weights on
    # (roles/model/fanout.py), or None: from the source itself.
    fanout: FanoutPlan | None = None
    ready_timeout: int = 900
    # A multi-node deployment over RPC workers (llama.cpp): on a worker, the address the head
    # connects from (it runs the RPC server, not the engine, and needs no weights); on the head,
    # each worker's address:port.
    rpc_head: str | None = None
    rpc_workers: tuple[str, ...] = ()
    # A deployment on a Ray cluster: every node runs Ray, the head also the engine.
    ray: RayPlan | None = None
    # Ports the deployment's nodes reach each other on: only they (and the node itself) may connect.
    cluster_ports: tuple[str, ...] = ()
    cluster_peers: tuple[str, ...] = ()
    # Beyond its home, what the unit may write (the Ray sessions, for the engine on a Ray head).
    writable_paths: tuple[str, ...] = ()
    # What the engine release is known not to do that this host's command asks for (catalog data).
    limitations: tuple[EngineLimitation, ...] = ()

    @property
    def seed(self) -> str:
        return self.recipe.seed

    @property
    def recipe_variant(self) -> str:
        return self.recipe.variant

    @property
    def recipe_note(self) -> str:
        return self.recipe.note

    @property
    def device_allow(self) -> tuple[str, ...]:
        return tuple(self.accelerator.device_allow)

    @property
    def supplementary_groups(self) -> tuple[str, ...]:
        return tuple(self.accelerator.supplementary_groups)

    @property
    def accelerator_cpu_arch(self) -> tuple[str, ...]:
        return tuple(self.accelerator.cpu_arch)

    @property
    def accelerator_vendor(self) -> str:
        return self.accelerator.vendor

    @property
    def accelerator_pci_vendor(self) -> str | None:
        return self.accelerator.pci_vendor

    @property
    def accelerator_pci_classes(self) -> tuple[str, ...]:
        return tuple(self.accelerator.pci_classes)

    @property
    def devices_per_node(self) -> int:
        return self.accelerator.devices_per_node

    @property
    def rpc_worker(self) -> bool:
        return self.rpc_head is not None

    @property
    def serves_api(self) -> bool:
        """False on a node that only lends its accelerators to its deployment's head: an RPC or Ray
        worker, or a headless rank of the engine's own multi-node mode."""
        return self.rank == 0

    @property
    def probe(self) -> str:
        """How the deploy tells the unit is ready: "http" (the engine's health endpoint), "tcp"
        (a worker's port: RPC, Ray) or "active" (a headless rank, which listens on nothing of its
        own: the unit running is all there is to see until the head is up)."""
        if self.health_path is None:
            return "tcp"
        return "http" if self.serves_api else "active"

    @property
    def node_address(self) -> str:
        return self.config.address or self.host

    @property
    def weights_share_url(self) -> str | None:
        return f"http://{host_port(self.weights_seed, self.config.model_share_port)}" if self.weights_seed else None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.health_path}"

    @property
    def listen_address(self) -> str:
        """Where the unit's server listens: the engine's bind address, or (a unit probed by TCP, an
        RPC or Ray worker's) the node's own address."""
        return self.node_address if self.health_path is None else self.config.service_bind_host
