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
    assert amd.key_url(amd.repo_url) == f"{amd.repo_url.rstrip('/')}/{catalog.amd.repository.key_path}"


def test_the_ascend_plan_embeds_the_catalog_entry_and_each_installers_two_entries(tmp_path):
    from glmstack.ascend import load_manifest
    from glmstack.lab.ascend import write_package_set
    from roles.ascend.plan import AscendPackagePlan, AscendPlan

    catalog = load_catalog()
    versions = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}
    manifest = load_manifest(write_package_set(tmp_path, "ascend-a3", "aarch64", versions))
    ascend = resolve("a3-1", {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                              "model_revision": "1" * 40, "ascend_packages": str(tmp_path)}).ascend
    assert ascend.platform == catalog.ascend
    assert not plan_fields(AscendPlan) & catalog_fields(catalog.ascend, catalog.ascend.roce)
    assert [package.manifest for package in ascend.packages] == sorted(
        manifest.packages, key=lambda package: list(versions).index(package.component))
    assert [package.installer for package in ascend.packages] == [
        catalog.ascend.components[package.component] for package in ascend.packages]
    # version_files is the installer's, filled in for the host's CPU architecture.
    assert plan_fields(AscendPackagePlan) & catalog_fields(ascend.packages[0].manifest, ascend.packages[0].installer) \
        == {"version_files"}
