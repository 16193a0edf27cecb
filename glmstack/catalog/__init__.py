"""The hardware and recipe catalog: data files in this folder, validated by typed models.

Roles read resolved values from here and never repeat them. Adding an accelerator, engine,
model or recipe means adding an entry to one of the YAML files beside this module.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATALOG_DIR = Path(__file__).resolve().parent

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
TUNABLES = ("max_model_len", "max_num_seqs")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accelerator(Strict):
    vendor: Literal["none", "nvidia", "amd", "huawei"]
    description: str
    devices_per_node: int = Field(ge=0)
    memory_per_device_gb: float = Field(ge=0)
    cpu_arch: list[Literal["x86_64", "aarch64"]]
    engines: list[str]
    llamacpp_backend: Literal["cpu", "cuda", "hip", "cann"] | None = None
    # Device nodes the engine unit may open (systemd DeviceAllow= entries); none means no devices.
    device_allow: list[str] = []


class EngineBackend(Strict):
    cmake_flags: list[str] = []
    build_packages: list[str] = []


class Engine(Strict):
    description: str
    version: str
    source: str
    unit_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    binary: str
    default_port: int = Field(ge=1, le=65535)
    health_path: str = Field(pattern=r"^/")
    model_formats: list[str]
    flags: dict[str, str]
    backends: dict[str, EngineBackend] = {}

    @field_validator("flags")
    @classmethod
    def _flags_cover_the_basics(cls, flags: dict[str, str]) -> dict[str, str]:
        missing = {"model_path", "served_model_name", "host", "port", *TUNABLES} - flags.keys()
        if missing:
            raise ValueError(f"flags lacks {sorted(missing)}")
        return flags


class Model(Strict):
    family: str
    format: Literal["gguf", "safetensors"]
    quantization: str
    description: str
    source: str = Field(pattern=r"^hf://[\w.-]+/[\w.-]+$")  # ModelScope arrives with its fetcher
    revision: str | None
    include: list[str] = []
    entry: str | None = None
    native_context: int = Field(gt=0)
    mtp: bool

    @field_validator("revision")
    @classmethod
    def _revision_is_a_commit(cls, revision: str | None) -> str | None:
        if revision is not None and not COMMIT_SHA.match(revision):
            raise ValueError("revision must be a 40-character commit sha")
        return revision


class Recipe(Strict):
    model: str
    accelerator: str
    engine: str
    seed: str = Field(pattern=r"^\d{3}$")
    note: str
    tunables: dict[str, int | float]
    args: list[str] = []
    env: dict[str, str] = {}

    @field_validator("tunables")
    @classmethod
    def _known_tunables(cls, tunables: dict[str, int | float]) -> dict[str, int | float]:
        unknown = set(tunables) - set(TUNABLES)
        if unknown:
            raise ValueError(f"unknown tunables {sorted(unknown)}; known: {list(TUNABLES)}")
        return tunables


class Catalog(Strict):
    accelerators: dict[str, Accelerator]
    engines: dict[str, Engine]
    models: dict[str, Model]
    recipes: list[Recipe]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for name, accelerator in self.accelerators.items():
            for engine in accelerator.engines:
                if engine not in self.engines:
                    raise ValueError(f"accelerator {name}: unknown engine {engine!r}")
        seen = set()
        for recipe in self.recipes:
            key = (recipe.model, recipe.accelerator, recipe.engine)
            where = "recipe {}/{}/{}".format(*key)
            if key in seen:
                raise ValueError(f"{where}: defined twice")
            seen.add(key)
            if recipe.model not in self.models:
                raise ValueError(f"{where}: unknown model")
            if recipe.accelerator not in self.accelerators:
                raise ValueError(f"{where}: unknown accelerator")
            if recipe.engine not in self.accelerators[recipe.accelerator].engines:
                raise ValueError(f"{where}: engine not supported by the accelerator")
            if self.models[recipe.model].format not in self.engines[recipe.engine].model_formats:
                raise ValueError(f"{where}: engine cannot load {self.models[recipe.model].format}")
        return self

    def recipe(self, model: str, accelerator: str, engine: str) -> Recipe | None:
        for recipe in self.recipes:
            if (recipe.model, recipe.accelerator, recipe.engine) == (model, accelerator, engine):
                return recipe
        return None

    def recipes_for(self, accelerator: str, engine: str) -> list[Recipe]:
        return [r for r in self.recipes if (r.accelerator, r.engine) == (accelerator, engine)]


def _read(name: str):
    with open(CATALOG_DIR / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    return Catalog(
        accelerators=_read("accelerators"),
        engines=_read("engines"),
        models=_read("models"),
        recipes=_read("recipes"),
    )
