"""What a deployment downloads from outside besides its weights, fetched once per lab (FanoutPlan).

The host that fetches the weights for others (glmstack.topology.link_weights_seeds: model_fetch_from,
or a deployment's rank 0) also fetches, once, what the hosts' installs take from outside: uv, every
engine environment's Python packages (a wheelhouse: the wheels and requirements.txt, their lock with
the resolver's hashes, made by uv for the hosts' platform) and llama.cpp's source. It serves them
over the lab network on model_packages_port while they arrive, each part as soon as it is complete;
every host of the group (the fetching one too) installs from there, hashes required.

The served directory has the layout of a bundle's parts (glmstack bundle, docs/offline.md):

    tools/uv/<arch>/            uv's wheel and requirements.txt (uv pinned, with its hashes)
    python/<set id>/            one engine environment's wheels and requirements.txt (hashes)
    llama.cpp/<source id>/      source.tar.gz and its sha256
    <part>/ready                written once the part is complete: the hosts take it from then on
    failed                      one line, what failed: the hosts stop waiting and name it
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmstack.values import host_port

if TYPE_CHECKING:
    from roles.engine.plan import EngineEnvPlan
    from roles.llamacpp.plan import LlamaCppPlan

FAILED = "failed"
# The seed's units: the fetch (root: it starts the server) and the server (the service user).
PACKAGES_UNIT = "glmstack-packages.service"
SHARE_UNIT = "glmstack-packages-share.service"
READY = "ready"
LOCK_FILE = "requirements.txt"
SOURCE_FILE = "source.tar.gz"


@dataclass(frozen=True)
class LlamaCppSource:
    """llama.cpp's source as the fetching host gets it once: a git commit or tag, a tarball URL, or a
    tarball on the control machine (uploaded to that host alone)."""

    kind: str  # git | url | local
    source: str
    version: str
    sha256: str | None

    @property
    def part(self) -> str:
        material = [self.kind, self.source, self.version, self.sha256 or ""]
        digest = hashlib.sha256("\n".join(material).encode()).hexdigest()[:12]
        return f"llama.cpp/{self.version[:24]}-{digest}"


@dataclass(frozen=True)
class FanoutPlan:
    """One host's part: where it installs from (the fetching host's server, its own too), and on the
    fetching host what it fetches for whom."""

    seed_host: str  # inventory name of the host fetching
    seed_address: str
    port: int
    root: str  # on the fetching host: the served directory
    arch: str
    timeout: int
    # This host's own needs (installed from the server).
    python_set: EngineEnvPlan | None = None
    llamacpp: LlamaCppSource | None = None
    # On the fetching host: every host's needs, each once, and the hosts it serves (name, address).
    python_sets: tuple[EngineEnvPlan, ...] = ()
    llamacpp_sources: tuple[LlamaCppSource, ...] = ()
    peers: tuple[tuple[str, str], ...] = ()
    # On the fetching host: each host of the group (itself first) with what it installs from here.
    members: tuple[tuple[str, EngineEnvPlan | None, LlamaCppPlan | None], ...] = ()

    @property
    def url(self) -> str:
        return f"http://{host_port(self.seed_address, self.port)}"

    @property
    def fetches(self) -> bool:
        return bool(self.peers)

    @property
    def uv_part(self) -> str:
        return f"tools/uv/{self.arch}"

    def python_part(self, env: EngineEnvPlan) -> str:
        return f"python/{env.install_key}"

    def part_url(self, part: str) -> str:
        return f"{self.url}/{part}"

    @property
    def parts(self) -> list[str]:
        """What the fetching host fetches, in its order: small ones first, so that builds start early."""
        parts = [self.uv_part] if self.python_sets else []
        parts += [source.part for source in self.llamacpp_sources]
        return parts + [self.python_part(env) for env in self.python_sets]
