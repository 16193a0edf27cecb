"""A vendor's plan embeds its catalog entry rather than copying it field by field: the plan holds
the catalog's own models (the platform, and the release chosen from it) and only what the host data
or the choice decides; the roles read the catalog data through them."""

from __future__ import annotations

import dataclasses

from glmstack.catalog import load_catalog
from glmstack.config import resolve
from roles.amd.plan import AmdPlan
from roles.nvidia.plan import NvidiaPlan


def plan_fields(plan_type) -> set[str]:
    return {field.name for field in dataclasses.fields(plan_type)}


def catalog_fields(*models) -> set[str]:
    return {name for model in models for name in type(model).model_fields}


def test_the_nvidia_plan_embeds_the_catalog_entry_and_the_chosen_line_and_branch():
    catalog = load_catalog()
    nvidia = resolve("gpu-1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}).nvidia
    assert nvidia.platform == catalog.nvidia
    assert nvidia.cuda == catalog.nvidia.cuda_lines[nvidia.cuda_line]
    assert nvidia.driver == catalog.nvidia.driver_branches[nvidia.driver_branch]
    # No field repeats one of the entry's (dcgm_package is the catalog's pattern filled in).
    copied = plan_fields(NvidiaPlan) & catalog_fields(catalog.nvidia, catalog.nvidia.repository, nvidia.cuda,
                                                      nvidia.driver, nvidia.driver.rpm)
    assert copied == {"dcgm_package"}


def test_the_amd_plan_embeds_the_catalog_entry_and_the_chosen_release():
    catalog = load_catalog()
    amd = resolve("gpu-1", {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}).amd
    assert amd.platform == catalog.amd
    assert amd.release == catalog.amd.rocm_releases[amd.rocm]
    assert not plan_fields(AmdPlan) & catalog_fields(catalog.amd, catalog.amd.repository, amd.release)
    # What the plan derives from the entry and the host data's mirror.
    assert amd.upstream_url == catalog.amd.repository.base_url.rstrip("/")
    assert amd.key_url == f"{amd.repo_url.rstrip('/')}/{catalog.amd.repository.key_path}"
