"""Plan tests of what a bundle carries from the vendors' repositories (glmstack.vendor_repos): for
every accelerator of the catalog, which repositories, paths and pinned package versions its hosts'
deploys install from. Plan-tested only: NVIDIA's and AMD's repositories are not reachable here, so
no real repository is mirrored; tests/unit/test_vendor_mirror.py mirrors a local signed one."""

from __future__ import annotations

import pytest
from plan_data import PLAN_DATA

from glmstack.catalog import load_catalog
from glmstack.config import resolve, resolve_inventory
from glmstack.vendor_repos import APT, DNF, PackagePin, vendor_repos

CATALOG = load_catalog()
PIN = {branch: pin.version for branch, pin in CATALOG.nvidia.driver_branches.items()}


def one_host_recipe(accelerator: str) -> dict:
    """Data of one host serving alone on `accelerator`, from the first recipe that fits one node."""
    if accelerator == "cpu":
        return dict(PLAN_DATA)
    for recipe in CATALOG.recipes:
        if recipe.accelerator == accelerator and recipe.parallel.nodes == 1 and recipe.variant == "default":
            return {"accelerator": accelerator, "model": recipe.model, "engine": recipe.engine}
    pytest.skip(f"no one-node recipe on {accelerator}")


def repos_of(data: dict, name: str = "node-1"):
    return vendor_repos([resolve(name, data)])


@pytest.mark.parametrize("accelerator", sorted(CATALOG.accelerators))
def test_every_accelerator_gets_its_vendors_repositories_and_no_other(accelerator):
    vendor = CATALOG.accelerators[accelerator].vendor
    if vendor == "huawei":  # its set is the operator's package set (the bundle's ascend/), no repository
        pytest.skip("Ascend's set is the operator's, tested in test_vendor_bundle_plan")
    repos = repos_of(one_host_recipe(accelerator))
    assert {repo.vendor for repo in repos} == ({vendor} if vendor in ("nvidia", "amd") else set())
    for repo in repos:
        assert repo.arch in CATALOG.accelerators[accelerator].cpu_arch
        assert repo.distribution in CATALOG.packages.distributions
        assert repo.base_url == getattr(CATALOG, vendor).repository.base_url


@pytest.mark.parametrize("accelerator", [a for a, acc in sorted(CATALOG.accelerators.items())
                                         if acc.vendor == "nvidia"])
def test_nvidia_hosts_get_the_pinned_driver_and_their_lines_toolkit_for_each_distribution(accelerator):
    data = one_host_recipe(accelerator)
    plan = resolve("node-1", data)
    repos = repos_of(data)
    table = CATALOG.nvidia.repository.distributions
    arches = CATALOG.accelerators[accelerator].cpu_arch
    assert {(r.distribution, r.arch) for r in repos} == {(d, a) for d in table for a in arches}
    for repo in repos:
        directory = table[repo.distribution]
        assert repo.path == f"{directory}/{CATALOG.nvidia.repository.architectures[repo.arch]}"
        assert PackagePin(plan.nvidia.cuda.toolkit_package) in repo.packages
        version = plan.nvidia.driver_version
        if repo.kind == APT:
            assert repo.files == (f"{repo.path}/cuda-keyring_1.1-1_all.deb",)
            assert {PackagePin(p, version) for p in plan.nvidia.driver.packages} <= set(repo.packages)
            assert repo.key_fingerprint == CATALOG.nvidia.repository.key_fingerprint
        else:
            assert repo.kind == DNF and repo.distribution == "rhel-9"
            assert repo.module_stream == plan.nvidia.driver.rpm.module_stream
            assert PackagePin("nvidia-open", version) in repo.packages
            assert repo.files == (f"{repo.path}/D42D0685.pub",)
            assert repo.key_sha256 == CATALOG.nvidia.repository.rpm_key_sha256


def test_gh200_is_sbsa_without_fabric_manager():
    repos = repos_of(one_host_recipe("gh200"))
    assert {r.path for r in repos} == {f"{d}/sbsa" for d in CATALOG.nvidia.repository.distributions.values()}
    assert not any("fabricmanager" in p.name for r in repos for p in r.packages)


def test_hgx_gets_the_fabric_manager_at_the_driver_pin_and_blackwell_the_nvlink5_tools():
    h200 = {r.kind: r for r in repos_of(one_host_recipe("h200"))}
    b200 = {r.kind: r for r in repos_of(one_host_recipe("b200"))}
    assert PackagePin("nvidia-fabricmanager-580", PIN["580"]) in h200[APT].packages
    assert not any(p.name == "nvlsm" for p in h200[APT].packages)
    assert PackagePin("nvlsm") in b200[APT].packages
    assert PackagePin("libnvidia-nscq-580", PIN["580"]) in b200[APT].packages
    assert PackagePin("libnvidia-nscq", PIN["580"]) in b200[DNF].packages


def test_a_host_pinned_to_another_branch_and_cuda_line_is_bundled_at_its_pins():
    data = {**one_host_recipe("h200"), "nvidia_cuda": "12.9", "nvidia_driver_branch": "575"}
    plan = resolve("node-1", data)
    if plan.engine_env is None or plan.nvidia.cuda_line != "12.9":
        pytest.skip("the engine has no CUDA 12.9 wheels")
    deb = next(r for r in repos_of(data) if r.kind == APT)
    assert PackagePin("nvidia-open-575", PIN["575"]) in deb.packages
    assert PackagePin("cuda-toolkit-12-9") in deb.packages


def test_a_mirror_in_the_host_data_is_where_the_bundle_fetches_from():
    data = {**one_host_recipe("h200"), "nvidia_repo_url": "http://mirror.lab.example/cuda/repos/"}
    assert {r.base_url for r in repos_of(data)} == {"http://mirror.lab.example/cuda/repos"}


def test_two_hosts_on_two_pins_share_one_repository_with_both_versions():
    first = {**one_host_recipe("h200")}
    second = {**first, "nvidia_driver_version": "580.65.06"}
    repos = vendor_repos([resolve("a", first), resolve("b", second)])
    deb = next(r for r in repos if r.kind == APT and r.distribution == "debian-12")
    assert {p.version for p in deb.packages if p.name == "nvidia-open-580"} == {PIN["580"], "580.65.06"}
    assert deb.hosts == ("a", "b")


@pytest.mark.parametrize("accelerator", [a for a, acc in sorted(CATALOG.accelerators.items())
                                         if acc.vendor == "amd"])
@pytest.mark.parametrize("rocm", sorted(CATALOG.amd.rocm_releases))
def test_amd_hosts_get_their_releases_installer_and_what_they_install(accelerator, rocm):
    data = {**one_host_recipe(accelerator), "amd_rocm": rocm}
    try:
        plan = resolve("node-1", data)
    except Exception as error:  # an engine without wheels for that release refuses it
        pytest.skip(str(error))
    repos = repos_of(data)
    version = CATALOG.amd.rocm_releases[rocm].package_version
    codenames = CATALOG.amd.repository.codenames
    apt = [r for r in repos if r.kind == APT]
    assert {r.distribution for r in apt} == set(codenames)
    for repo in apt:
        installer = f"amdgpu-install/{rocm}/ubuntu/{codenames[repo.distribution]}/amdgpu-install_{version}_all.deb"
        assert repo.files == (installer, CATALOG.amd.repository.key_path)
        assert repo.repositories_from_installer
        assert {PackagePin(p) for p in plan.amd.platform.rocm_packages + plan.amd.platform.driver_packages} \
            <= set(repo.packages)
    (rpm,) = [r for r in repos if r.kind == DNF]
    assert rpm.files[0] == f"amdgpu-install/{rocm}/rhel/9.6/amdgpu-install-{version}.el9.noarch.rpm"


def test_cpu_hosts_need_no_vendor_repository():
    cpu = repos_of(one_host_recipe("cpu"))
    assert cpu == []


def test_a_two_node_deployment_is_one_repository_entry_listing_both_hosts():
    hosts = [(name, {"accelerator": "h100", "model": "glm-5.2-fp8", "engine": "vllm", "deployment": "d",
                     "network_interface": "ens1f0", "address": address, "model_revision": "0" * 40})
             for name, address in (("h100-1", "10.0.0.11"), ("h100-2", "10.0.0.12"))]
    repos = vendor_repos(resolve_inventory(hosts))
    assert all(r.hosts == ("h100-1", "h100-2") for r in repos) and len(repos) == 4
