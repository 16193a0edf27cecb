"""The front door's lab deployment, shared by every module of this package (one 2-node deploy):
two lab nodes each serving the CPU profile alone, both in one replica group behind their gateways.

Modules use the `front_door` fixture (a FrontDoor): the nodes, the inventory, the host data, each
node's plan, the CA each node made (fetched into a temporary directory) and each node's API key
(read over SSH, never printed). A module that changes the deployment puts it back as it found it,
or updates the FrontDoor (a rotated key: `refresh_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glmstack.config import resolve_inventory
from glmstack.lab import lab
from glmstack.lab.profile import MODEL_PORT, DeployResult, cpu_profile_data, models_dir, run_deploy
from glmstack.lab.serve import serve_directory

GROUP = "front-door"


@dataclass
class FrontDoor:
    paths: lab.LabPaths
    nodes: list[dict[str, Any]]  # as lab.up returns them: "address", ...
    inventory: Path
    data: dict[str, Any]  # every node's host data (the group's)
    plans: dict[str, Any]  # address -> DeployPlan
    first_deploy: DeployResult
    ca_files: dict[str, Path] = field(default_factory=dict)  # address -> the CA that node made
    keys: dict[str, str] = field(default_factory=dict)  # address -> its API key (never print it)

    @property
    def addresses(self) -> list[str]:
        return [node["address"] for node in self.nodes]

    def connection(self, address: str):
        return lab.node_connection(address, self.paths)

    def url(self, address: str) -> str:
        return self.plans[address].gateway.url

    def refresh_keys(self) -> None:
        """Read each node's API key again over SSH (after a rotation)."""
        for address in self.addresses:
            key_file = self.plans[address].gateway.key_file
            self.keys[address] = self.connection(address).check_output(f"cat {key_file}").strip()

    def fetch_cas(self, directory: Path) -> None:
        for address in self.addresses:
            target = directory / f"{address}-ca.crt"
            target.write_text(self.connection(address).file(self.plans[address].gateway.ca_file).content_string)
            self.ca_files[address] = target


@pytest.fixture(scope="package")
def front_door(tmp_path_factory):
    paths = lab.LabPaths.from_env()
    lab.down(paths)  # a lab left behind by an interrupted run must not leak into this one
    try:
        nodes = lab.up(2, paths)
        data = {**cpu_profile_data(paths), "gateway_group": GROUP}
        inventory = lab.write_inventory(paths, extra_data=data)
        with serve_directory(models_dir(paths), port=MODEL_PORT):
            deployed = run_deploy(inventory)
        assert deployed.returncode == 0, deployed.stderr[-4000:]
        hosts = [(node["address"], data) for node in nodes]
        plans = {plan.host: plan for plan in resolve_inventory(hosts)}
        door = FrontDoor(paths=paths, nodes=nodes, inventory=inventory, data=data, plans=plans,
                         first_deploy=deployed)
        door.fetch_cas(tmp_path_factory.mktemp("front-door-ca"))
        door.refresh_keys()
        yield door
    finally:
        lab.down(paths)
