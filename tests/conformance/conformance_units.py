"""Every unit of every recipe in the catalog, planned from host data as an operator's inventory would.

Recipes are read from the catalog, never listed here. Each recipe gets as many hosts as its layout
has nodes, on addresses of their own (10.<recipe>.0.<rank+1>; llama.cpp's RPC workers run for real
on their loopback twins, 127.0.<recipe>.<rank+1>: see `on_loopback`), and the host data an
operator must give for it, derived from the catalog: a commit for a checkpoint the catalog does
not pin, the shard to load for a GGUF, a patched engine build for a grafted checkpoint, a loopback
bind for an engine that cannot take an API key, the NPUs' RoCE addresses where HCCL crosses nodes
over them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glmstack.catalog import Catalog, Recipe, load_catalog
from glmstack.config import DeployPlan, resolve_inventory
from glmstack.examples import recipe_hosts, recipe_label
from roles.service.units import UnitSpec, node_unit_specs, ray_unit_spec

SUMMARY: list[str] = []  # what was checked, printed at the end of the run (conftest.py)
# Engine-prefixed environment variables, by the engine whose own list names them.
PREFIXES = {"VLLM_ASCEND_": "vllm-ascend", "VLLM_": "vllm", "SGLANG_": "sglang", "SGL_": "sglang",
            "LLAMA_": "llama.cpp", "RAY_": "ray"}


@dataclass(frozen=True)
class Unit:
    recipe: str  # model/accelerator/engine/variant
    host: str
    rank: int
    name: str  # the systemd unit
    parser: str  # vllm, vllm-ascend, sglang, llama-server, ggml-rpc-server, ray
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # every variable the unit gets, the API key's name included

    @property
    def id(self) -> str:
        return f"{self.recipe}/{self.name}@{self.rank}"

    def engine_env(self) -> list[tuple[str, str, str]]:
        """(name, value, whose list) of every engine-prefixed variable."""
        found = []
        for name, value in self.env:
            owner = next((engine for prefix, engine in PREFIXES.items() if name.startswith(prefix)), None)
            if owner:
                found.append((name, value, owner))
        return found


def host_data(recipe: Recipe, index: int, catalog: Catalog) -> list[tuple[str, dict]]:
    """Each node on an address of its own (10.<recipe index>.0.<rank + 1>): a rank's address must be
    one the other nodes reach, which loopback is not."""
    addresses = [f"10.{index}.0.{rank + 1}" for rank in range(recipe.parallel.nodes)]
    return recipe_hosts(recipe, catalog, addresses=addresses, deployment=f"conformance-{index}")


_NODE_ADDRESS = re.compile(r"\b10\.(\d+)\.0\.(\d+)\b")


def on_loopback(argv: tuple[str, ...] | list[str]) -> list[str]:
    """A command line with each node's address (10.i.0.r) as its loopback twin (127.0.i.r), so the
    nodes of a recipe run side by side on this machine and reach each other."""
    return [_NODE_ADDRESS.sub(r"127.0.\1.\2", word) for word in argv]


def _parser(plan: DeployPlan, unit: UnitSpec) -> str:
    if plan.ray is not None and unit == ray_unit_spec(plan):
        return "ray"
    if plan.rpc_worker:
        return "ggml-rpc-server"
    return {"llama.cpp": "llama-server"}.get(plan.engine_name, plan.engine_name)


def plans_by_recipe(catalog: Catalog | None = None) -> list[tuple[Recipe, list[DeployPlan]]]:
    catalog = catalog or load_catalog()
    return [(recipe, resolve_inventory(host_data(recipe, index, catalog), catalog))
            for index, recipe in enumerate(catalog.recipes)]


def all_units(catalog: Catalog | None = None) -> list[Unit]:
    units = []
    for recipe, plans in plans_by_recipe(catalog):
        for plan in plans:
            for unit in node_unit_specs(plan):
                env = dict(unit.environment)  # HOME and proxies too: no engine prefix
                if unit.api_key:
                    env[unit.api_key.variable] = "(from its environment file)"
                units.append(Unit(recipe_label(recipe), plan.host, plan.rank, unit.name, _parser(plan, unit),
                                  tuple(unit.argv), tuple(env.items())))
    return units


if __name__ == "__main__":
    for unit in all_units():
        print(unit.id, unit.parser, " ".join(unit.argv))
