"""Host data that plans any catalog recipe as its seed describes it.

A recipe leaves to its hosts what only an operator knows: pins the catalog has not recorded,
the deployment's name, its nodes' addresses and NIC, the NPUs' RoCE addresses. The tiers that
check every recipe (unit, resolve, conformance, sandbox) fill those in here, once, with stand-ins
that are plainly not real (repeated-digit commits, documentation address ranges).
"""

from __future__ import annotations

from collections.abc import Sequence

from glmstack.catalog import Catalog, Recipe, load_catalog

PIN = "1" * 40
GRAFT_PIN = "2" * 40
BUILD_COMMIT = "3" * 40
INTERFACE = "eth0"


def recipe_label(recipe: Recipe) -> str:
    return f"{recipe.model}/{recipe.accelerator}/{recipe.engine}/{recipe.variant}"


def _engine_package(recipe: Recipe, catalog: Catalog) -> str:
    nvidia = catalog.release_for(recipe).python_packages.get("nvidia", {})
    requirement = next(iter(nvidia.values())).requirements[0]
    return requirement.split("=")[0].split("@")[0].strip()


def recipe_hosts(recipe: Recipe, catalog: Catalog | None = None, addresses: Sequence[str] | None = None,
                 deployment: str = "example") -> list[tuple[str, dict]]:
    """(host, data) for each node of the recipe; multi-node hosts are named by their addresses."""
    catalog = catalog or load_catalog()
    model = catalog.models[recipe.model]
    nodes = recipe.parallel.nodes
    data: dict = {"accelerator": recipe.accelerator, "model": recipe.model, "engine": recipe.engine,
                  "recipe_variant": recipe.variant}
    if model.source and model.revision is None:
        data["model_revision"] = PIN
    if model.graft:
        if catalog.models[model.graft.base].revision is None:
            data["model_revision"] = PIN
        if catalog.models[model.graft.delta].revision is None:
            data["model_graft_revision"] = GRAFT_PIN
        # The graft needs a build of the engine with its patch: one pinned by commit.
        data["engine_requirement"] = (f"{_engine_package(recipe, catalog)} @ git+https://git.lab.example/"
                                      f"{recipe.engine}.git@{BUILD_COMMIT}")
    if model.format == "gguf" and model.entry is None:
        directory = model.include[0].split("*")[0] if model.include else ""
        data["model_entry"] = f"{directory}{recipe.model}-00001-of-00002.gguf"
    if nodes > 1:
        data.update(deployment=deployment, network_interface=INTERFACE)
    if nodes == 1:
        return [("h1", data)]
    addresses = list(addresses or [f"10.0.0.{rank + 1}" for rank in range(nodes)])
    return [(addresses[rank], {**data, **roce_settings(recipe.accelerator, rank, catalog)}) for rank in range(nodes)]


def roce_settings(accelerator_id: str, rank: int, catalog: Catalog | None = None) -> dict:
    """A multi-node node's NPU RoCE addresses, where HCCL crosses nodes over them (documentation range)."""
    accelerator = (catalog or load_catalog()).accelerators[accelerator_id]
    if not accelerator.hccl_over_roce:
        return {}
    npus = accelerator.devices_per_node
    return {"ascend_roce_netmask": "255.255.255.0",
            "ascend_roce_addresses": [f"198.51.100.{npus * rank + npu + 1}" for npu in range(npus)]}
