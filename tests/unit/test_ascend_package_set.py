"""The package set is checked against the catalog and its files before any host is touched."""

from __future__ import annotations

import pytest

from glmstack.config import InventoryError, resolve_inventory
from glmstack.lab.ascend import write_package_set

VERSIONS = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}


def refused(data: dict) -> str:
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("a3-1", {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                                     "model_revision": "0" * 40, **data})])
    return str(error.value)


def test_an_a2_set_on_an_a3_host_names_the_files_and_what_was_expected(tmp_path):
    write_package_set(tmp_path, "ascend-a2", "aarch64", VERSIONS)
    text = refused({"ascend_packages": str(tmp_path)})
    assert ("host a3-1: field ascend_manifest: Ascend-hdk-910b-npu-driver_25.5.1_linux-aarch64.run: not the driver "
            "installer of 25.5.1 for ascend-a3; expected Atlas-A3-hdk-npu-driver_25.5.1_linux-aarch64.run") in text


def test_cann_other_than_the_engines_pairing_is_refused(tmp_path):
    write_package_set(tmp_path, "ascend-a3", "aarch64", {**VERSIONS, "toolkit": "9.0.0", "ops": "9.0.0",
                                                         "nnal": "9.0.0"})
    assert refused({"ascend_packages": str(tmp_path)}) == (
        "host a3-1: field ascend_manifest: CANN 9.0.0 in the package set, but the engine needs CANN 9.1.0 "
        "(vllm-ascend's versioning table)")


def test_cann_parts_at_different_versions_are_refused(tmp_path):
    write_package_set(tmp_path, "ascend-a3", "aarch64", {**VERSIONS, "nnal": "9.0.0"})
    assert "must share one version; the manifest has 9.0.0, 9.1.0" in refused({"ascend_packages": str(tmp_path)})


def test_a_missing_installer_is_named(tmp_path):
    write_package_set(tmp_path, "ascend-a3", "aarch64", VERSIONS)
    next(tmp_path.glob("*firmware*")).unlink()
    assert refused({"ascend_packages": str(tmp_path)}) == (
        f"host a3-1: field ascend_packages: Atlas-A3-hdk-npu-firmware_7.8.0.6.201.run: not in {tmp_path}")


def test_a_manifest_without_a_component_is_refused(tmp_path):
    manifest = write_package_set(tmp_path, "ascend-a3", "aarch64", VERSIONS)
    manifest.write_text("\n".join(line for line in manifest.read_text().splitlines()
                                  if "nnal" not in line) + "\n")
    assert "the manifest must list one nnal installer, it lists 0" in refused({"ascend_packages": str(tmp_path)})


def test_a_mirror_needs_its_manifest_here():
    assert refused({"ascend_packages": "https://mirror.lab.example/ascend"}) == (
        "host a3-1: field ascend_manifest: an http(s) package set needs its manifest on this machine")


def test_ascend_settings_on_an_nvidia_host_are_refused():
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("h1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm",
                                   "ascend_packages": "/srv/ascend"})])
    assert "field ascend_packages: only applies to Huawei Ascend accelerators" in str(error.value)


def test_pre_8_5_cann_takes_the_kernels_package_name(tmp_path):
    from glmstack.ascend import expected_file
    from glmstack.catalog import load_catalog

    catalog = load_catalog()
    chip = catalog.ascend.chips["ascend-a2"].model_dump()
    ops = catalog.ascend.components["ops"]
    assert expected_file(ops, chip, "8.3.RC2", "aarch64") == "Ascend-cann-kernels-910b_8.3.RC2_linux-aarch64.run"
    assert expected_file(ops, chip, "8.5.0", "aarch64") == "Ascend-cann-910b-ops_8.5.0_linux-aarch64.run"
    driver = catalog.ascend.components["driver"]
    assert expected_file(driver, chip, "25.5.1", "x86_64") == "Ascend-hdk-910b-npu-driver_25.5.1_linux-x86-64.run"
