"""Plan tests: deploys from a bundle take the vendors' packages from its partial mirrors and the
Ascend set from its copy, still checked with the vendor's key and the set's sums.

The base role places the bundle's files a host needs in its bundle directory, checked against the
manifest (the bundle's own tests); these tests give the vendor roles a bundle through
roles.vendor_plan.bundle_source, the one place they read the host data's `bundle` from, and check
what they do with it. Plan-tested only: no NVIDIA, AMD or Ascend machine installs from a bundle here.
"""

from __future__ import annotations

import pytest
from fakehost import run_deploy
from gpu_states import RHEL_9, AmdHost, AscendHost, NvidiaHost

from glmstack.catalog import load_catalog
from glmstack.config import InventoryError, resolve_inventory
from glmstack.lab.ascend import write_package_set
from roles.base.operations import BUNDLE_SOURCES_DIR

BUNDLE = "http://10.0.0.1:8090/bundle"
# Where the base role puts the bundle's files on a host (default base_prefix), read as file:// URLs.
ON_HOST = "file:///opt/glmstack/bundle"
CATALOG = load_catalog()
NVIDIA_KEY = CATALOG.nvidia.repository.key_fingerprint
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
MI300X = {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}
A3 = {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40}
VERSIONS = {"driver": "25.5.1", "firmware": "7.8.0.6.201", "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"}
STOP = "a reboot is needed"


def with_bundle(monkeypatch, bundle: str | None) -> None:
    import roles.ascend.plan
    import roles.vendor_plan

    for module in (roles.vendor_plan, roles.ascend.plan):
        monkeypatch.setattr(module, "bundle_source", lambda config: bundle)


@pytest.fixture
def sources(monkeypatch):
    """The apt sources and yum .repo files the nvidia role writes, as rendered."""
    from roles.nvidia import operations

    written: list[str] = []
    for name in ("apt_source", "yum_repository"):
        original = getattr(operations, name)
        monkeypatch.setattr(operations, name, lambda *a, original=original: written.append(original(*a)) or written[-1])
    return written


def vendor_downloads(run) -> list[str]:
    return [c for c in run.commands if "curl" in c or "apt-get" in c or "dnf install" in c]


def test_nvidia_on_debian_takes_the_keyring_and_packages_from_the_bundles_apt_mirror(monkeypatch, sources):
    with_bundle(monkeypatch, BUNDLE)
    run = run_deploy(H200, NvidiaHost(H200).responses())
    keyring = next(c for c in run.commands if "cuda-keyring_1.1-1_all.deb" in c)
    assert f"{ON_HOST}/apt/nvidia/debian12/x86_64/cuda-keyring_1.1-1_all.deb" in keyring
    # The keyring package's key is still required to be NVIDIA's before dpkg runs it.
    assert keyring.index(f"grep -qx {NVIDIA_KEY}") < keyring.index("dpkg -i")
    (source,) = {s for s in sources if s.startswith("deb ") and "/x86_64/" in s}  # the host's, not plan checks
    # Still signed-by NVIDIA's keyring; the bundle's lists are as old as the bundle: no Valid-Until check.
    assert source == (f"deb [signed-by={CATALOG.nvidia.repository.keyring_file} check-valid-until=no] "
                      f"{ON_HOST}/apt/nvidia/debian12/x86_64/ /\n")
    assert "trusted=yes" not in source
    assert run.ran(f"mkdir -p {BUNDLE_SOURCES_DIR}")  # where apt reads a bundle's sources only
    assert not any(CATALOG.nvidia.repository.base_url in c for c in run.commands)


def test_nvidia_on_rhel_takes_the_key_by_its_sum_and_a_gpgchecked_repository_from_the_bundle(monkeypatch, sources):
    with_bundle(monkeypatch, BUNDLE)
    run = run_deploy(H200, NvidiaHost(H200).rhel().responses())
    key = next(c for c in run.commands if "D42D0685.pub" in c)
    assert f"{ON_HOST}/dnf/nvidia/rhel9/x86_64/D42D0685.pub" in key
    assert key.index(f"{CATALOG.nvidia.repository.rpm_key_sha256}  ") < key.index("rpm --import")
    (repo,) = {s for s in sources if s.startswith("[") and "/x86_64" in s}
    assert f"baseurl={ON_HOST}/dnf/nvidia/rhel9/x86_64\n" in repo and "gpgcheck=1\n" in repo
    assert "gpgcheck=0" not in repo
    assert not any(CATALOG.nvidia.repository.base_url in c for c in run.commands)


def test_amd_takes_the_installer_and_its_sources_from_the_bundle(monkeypatch):
    with_bundle(monkeypatch, BUNDLE)
    upstream = CATALOG.amd.repository.base_url
    state = AmdHost(MI300X).answer(STOP, [], success=False).answer(
        f"grep -lsF {upstream}", ["/etc/apt/sources.list.d/amdgpu.list", "/etc/apt/sources.list.d/rocm.list"])
    run = run_deploy(MI300X, state.responses(), allow_failure=True)
    installer = next(c for c in run.commands if "amdgpu-install_" in c and "curl" in c)
    assert f"{ON_HOST}/apt/amd/amdgpu-install/7.2.1/ubuntu/noble/" in installer
    assert installer.index(f"grep -qx {CATALOG.amd.repository.key_fingerprint}") < installer.index("dpkg -i")
    rewrite = run.index_of(f"sed -i 's|https://repo\\.radeon\\.com|{ON_HOST}/apt/amd|g'")
    listed = run.index_of(f"> {BUNDLE_SOURCES_DIR}/\"$(basename \"$f\")\"")
    assert "s/^deb \\[/deb [check-valid-until=no /" in run.commands[listed]
    assert run.index_of("dpkg -i /tmp/glmstack-amdgpu-install.deb") < rewrite < listed < run.index_of("amdgpu-dkms")
    assert not any(upstream in c for c in vendor_downloads(run))


def test_amd_on_rhel_imports_rocms_key_from_the_bundles_dnf_tree(monkeypatch):
    with_bundle(monkeypatch, BUNDLE)
    state = AmdHost(MI300X, RHEL_9).answer(STOP, [], success=False)
    run = run_deploy(MI300X, state.responses(), allow_failure=True)
    run.assert_in_order([f"{ON_HOST}/dnf/amd/rocm/rocm.gpg.key",
                         f"grep -qx {CATALOG.amd.repository.key_fingerprint}",
                         f"{ON_HOST}/dnf/amd/amdgpu-install/7.2.1/rhel/9.6/",
                         "rpm -K /tmp/glmstack-amdgpu-install.rpm"])


def test_ascend_installs_the_bundles_copy_of_its_set_checked_against_its_manifest(monkeypatch, tmp_path):
    bundle = tmp_path / "bundle"
    write_package_set(bundle / "ascend" / "ascend-a3", "ascend-a3", "aarch64", VERSIONS)
    with_bundle(monkeypatch, str(bundle))
    state = AscendHost(A3)
    assert state.plan.ascend.source == f"{bundle}/ascend/ascend-a3"
    run = run_deploy(A3, state.responses(), allow_failure=True)
    run.assert_in_order(["sha256sum <", "--full --install-for-all --quiet"])


def test_an_ascend_set_from_a_url_bundle_is_fetched_from_it(monkeypatch, tmp_path):
    write_package_set(tmp_path, "ascend-a3", "aarch64", VERSIONS)
    with_bundle(monkeypatch, BUNDLE)
    data = {**A3, "ascend_manifest": str(tmp_path / "manifest.yaml")}
    run = run_deploy(data, AscendHost(data).responses(), allow_failure=True)
    assert run.ran(f"{BUNDLE}/ascend/ascend-a3/Atlas-A3-hdk-npu-driver_25.5.1_linux-aarch64.run")


def test_a_bundle_lacking_the_ascend_set_is_refused_naming_the_file(monkeypatch, tmp_path):
    with_bundle(monkeypatch, str(tmp_path))
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("a3-1", A3)])
    assert str(error.value) == (f"host a3-1: field bundle: {tmp_path}/ascend/ascend-a3: not in the bundle, which "
                                "carries no Ascend package set for ascend-a3; make it again from this inventory "
                                "(glmstack bundle)")


def test_an_altered_installer_in_the_bundle_is_refused_naming_it(monkeypatch, tmp_path):
    directory = tmp_path / "ascend" / "ascend-a3"
    write_package_set(directory, "ascend-a3", "aarch64", VERSIONS)
    toolkit = next(directory.glob("Ascend-cann-toolkit_*.run"))
    toolkit.write_bytes(toolkit.read_bytes() + b"#")
    with_bundle(monkeypatch, str(tmp_path))
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("a3-1", A3)])
    assert str(error.value) == (f"host a3-1: field bundle: {directory}: {toolkit.name}: its sha256 is not the "
                                "manifest's (a corrupted or different file); nothing was installed")


@pytest.mark.parametrize(("data", "setting"), [({**H200, "nvidia_repo_url": "http://mirror.lab.example/cuda"},
                                                "nvidia_repo_url"),
                                               ({**MI300X, "amd_repo_url": "http://mirror.lab.example/radeon"},
                                                "amd_repo_url"),
                                               ({**A3, "ascend_packages": "/srv/ascend"}, "ascend_packages")])
def test_a_vendor_source_given_with_a_bundle_is_refused(monkeypatch, data, setting):
    with_bundle(monkeypatch, BUNDLE)
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("gpu-1", data)])
    assert f"host gpu-1: field {setting}: given with bundle, which carries" in str(error.value)
