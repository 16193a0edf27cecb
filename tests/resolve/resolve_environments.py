"""Every engine environment the catalog can produce, enumerated from its recipes and platforms.

Each recipe is planned as a host (or a deployment of fake hosts) would be, on every platform line its
engine has wheels for (CUDA line, ROCm release; CANN from vllm-ascend's versioning table) and every
CPU architecture its accelerator comes in; the plan's own engine environment (glmstack.config
engine_environment) is then taken for each (Python, platform) target it is made for. Environments
that are the same set of pins, indexes and target are resolved once, for all recipes that use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resolve_uv import requirement_name

from glmstack.catalog import Catalog, Recipe, load_catalog
from glmstack.config import EngineEnvPlan, EnvTarget, engine_environment, environment_targets, resolve_inventory
from glmstack.examples import recipe_hosts


@dataclass
class Environment:
    env: EngineEnvPlan
    target: EnvTarget
    line: str  # "CUDA 13.0", "ROCm 7.2.1", "CANN 9.1.0"
    extras: tuple[str, ...] = ()  # what the recipe adds to the engine's own set (model needs, Ray)
    recipes: list[str] = field(default_factory=list)
    model_types: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple:
        env = self.env
        return (env.engine, env.version, env.requirements, env.torch_backend, env.extra_index_urls, env.build_env,
                env.source_packages, env.build_requirements, self.target)

    @property
    def name(self) -> str:
        gpu = dict(self.env.build_env).get("GPU_ARCHS")
        extras = ["+".join(self.extras)] if self.extras else []
        return "-".join([self.env.engine, self.env.version, self.line.replace(" ", ""), *([gpu] if gpu else []),
                         self.target.arch, f"py{self.target.python}", *extras])


def recipe_id(recipe: Recipe) -> str:
    return f"{recipe.model}/{recipe.accelerator}/{recipe.engine}/{recipe.variant}"


def _lines(catalog: Catalog, recipe: Recipe) -> list[tuple[str, dict]]:
    """(line, host data selecting it) for every platform line the recipe's engine has wheels for."""
    vendor = catalog.accelerators[recipe.accelerator].vendor
    wheels = catalog.release_for(recipe).python_packages
    if vendor == "nvidia":
        return [(f"CUDA {line}", {"nvidia_cuda": line}) for line in wheels.get("nvidia", {})]
    if vendor == "amd":
        return [(f"ROCm {line}", {"amd_rocm": line}) for line in wheels.get("amd", {})]
    if vendor == "huawei":
        version = catalog.release_for(recipe).version
        return [(f"CANN {catalog.ascend.vllm_ascend[version].cann}", {})]
    return []  # llama.cpp: built from source, no Python environment


def _hosts(catalog: Catalog, recipe: Recipe, selection: dict) -> list[tuple[str, dict]]:
    return [(name, {**data, "service_bind_host": "127.0.0.1", **selection})
            for name, data in recipe_hosts(recipe, catalog, deployment="resolve")]


def environments(catalog: Catalog | None = None) -> tuple[list[Environment], list[tuple[str, str]]]:
    """The distinct environments, and (recipe, why) for recipes whose environment is not the catalog's."""
    catalog = catalog or load_catalog()
    found: dict[tuple, Environment] = {}
    not_catalogs: list[tuple[str, str]] = []
    for recipe in catalog.recipes:
        model = catalog.models[recipe.model]
        if model.graft is not None:
            # Its engine is the operator's own patched build (engine_requirement), not a release.
            not_catalogs.append((recipe_id(recipe), f"needs {model.graft.engine_patch.split(' (')[0]}: the "
                                                    "operator's own build (engine_requirement)"))
            continue
        for line, selection in _lines(catalog, recipe):
            try:
                plan = resolve_inventory(_hosts(catalog, recipe, selection), catalog, require_fit=False)[0]
            except ValueError as error:
                # A line the planner refuses for this engine (SGLang on CUDA 12.9) is no environment.
                if "nvidia_cuda" in str(error) or "amd_rocm" in str(error):
                    continue
                raise
            extras = tuple(sorted({requirement_name(r) for r in model.python_requirements.get(recipe.engine, [])}
                                  | ({"ray"} if plan.ray else set())))
            for arch in catalog.accelerators[recipe.accelerator].cpu_arch:
                env = engine_environment(plan, arch, catalog)
                for target in environment_targets(env, catalog):
                    candidate = Environment(env, target, line, extras)
                    entry = found.setdefault(candidate.key, candidate)
                    entry.recipes.append(f"{recipe_id(recipe)} ({line}, {arch})")
                    if model.model_type:
                        entry.model_types.add(model.model_type)
    return list(found.values()), not_catalogs
