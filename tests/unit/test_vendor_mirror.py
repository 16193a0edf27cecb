"""The bundle's partial mirrors of vendor repositories (glmstack.vendor_mirror), against local
repositories signed with a throwaway key and served on loopback (vendor_fixture): what is mirrored
verifies with the vendor's key as the original does, holds only the packages the hosts install and
their closure inside the repository, and a tampered file or a foreign key is refused."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from vendor_fixture import Signer, build_deb, build_dnf, index_apt, make_signer, serve

from glmstack.catalog import load_catalog
from glmstack.config import resolve
from glmstack.vendor_mirror import (
    Fetcher,
    MirrorError,
    apt_sources_of,
    deb_version_compare,
    key_sum_without_version,
    mirror_repo,
    rpm_version_compare,
)
from glmstack.vendor_repos import APT, DNF, vendor_repos

pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("gpg", "gpgv", "dpkg-deb", "dpkg-scanpackages")),
                                reason="needs gpg, gpgv, dpkg-deb and dpkg-scanpackages")

CATALOG = load_catalog()
PIN = CATALOG.nvidia.driver_branches["580"].version
OLD = "580.65.06"
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
MI300X = {"accelerator": "mi300x", "model": "glm-5.2-fp8", "engine": "vllm"}
ROCM = CATALOG.amd.default_rocm
ROCM_VERSION = CATALOG.amd.rocm_releases[ROCM].package_version


def nvidia_apt(site: Path, signer: Signer) -> Path:
    """NVIDIA's flat repository shape: debs, Packages and InRelease side by side."""
    root = site / "cuda" / "debian12" / "x86_64"
    root.mkdir(parents=True)
    build_deb(root, "cuda-keyring", "1.1-1", "all", files={"usr/share/keyrings/cuda-archive-keyring.gpg":
                                                               signer.binary()})
    for version in (PIN, OLD):
        build_deb(root, "nvidia-open-580", f"{version}-1",
                  depends=f"nvidia-kernel-open-580 (= {version}-1), libnvidia-compute-580, dkms")
        build_deb(root, "nvidia-kernel-open-580", f"{version}-1")
        build_deb(root, "libnvidia-compute-580", f"{version}-1")
        build_deb(root, "cuda-drivers-580", f"{version}-1", depends=f"nvidia-open-580 (>= {version})")
        build_deb(root, "nvidia-fabricmanager-580", f"{version}-1")
    build_deb(root, "cuda-toolkit-13-0", "13.0.0-1", depends="cuda-cudart-13-0")
    build_deb(root, "cuda-toolkit-13-0", "13.0.1-1", depends="cuda-cudart-13-0 (>= 13.0.1) | cuda-fallback")
    build_deb(root, "cuda-cudart-13-0", "13.0.1-1", depends="libc6 (>= 2.17)")
    build_deb(root, "unrelated-tool", "1.0-1")
    for built in root.glob("build-*"):
        shutil.rmtree(built)
    index_apt(root, signer, root, ".", "Packages", None)
    return root


def nvidia_dnf(site: Path, signer: Signer) -> Path:
    root = site / "cuda" / "rhel9" / "x86_64"
    packages = []
    for version in (PIN, OLD):
        packages += [("nvidia-open", version, "1.el9", (("nvidia-kmod-common", "EQ", version), "dkms", "/bin/sh"),
                      ()),
                     ("nvidia-kmod-common", version, "1.el9", (), ("nvidia-kmod-common",)),
                     ("nvidia-fabricmanager", version, "1", (), ())]
    packages += [("cuda-toolkit-13-0", "13.0.1", "1", ("libcudart.so.13()(64bit)",), ()),
                 ("cuda-cudart-13-0", "13.0.1", "1", (), ("libcudart.so.13()(64bit)",)),
                 ("unrelated-tool", "1.0", "1", (), ())]
    build_dnf(root, signer, packages)
    (root / "D42D0685.pub").write_bytes(signer.armored())
    return root


def amd_apt(site: Path, signer: Signer, upstream: str) -> None:
    """AMD's shape: the installer package naming two dists repositories below the vendor's base."""
    installer = site / "amdgpu-install" / ROCM / "ubuntu" / "jammy"
    installer.mkdir(parents=True)
    lists = {"etc/apt/sources.list.d/amdgpu.list":
             f"deb [arch=amd64,i386 signed-by=/etc/apt/keyrings/rocm.gpg] {upstream}/amdgpu/30.30.1/ubuntu jammy "
             "main\n".encode(),
             "etc/apt/sources.list.d/rocm.list":
             f"deb [arch=amd64 signed-by=/etc/apt/keyrings/rocm.gpg] {upstream}/rocm/apt/{ROCM} jammy main\n"
             .encode(),
             "etc/apt/keyrings/rocm.gpg": signer.binary()}
    build_deb(installer, "amdgpu-install", ROCM_VERSION, "all", files=lists)
    (site / "rocm").mkdir()
    (site / "rocm" / "rocm.gpg.key").write_bytes(signer.armored())
    repos = {site / "amdgpu" / "30.30.1" / "ubuntu": [("amdgpu-dkms", "6.16.6-1", "amdgpu-dkms-firmware, dkms"),
                                                      ("amdgpu-dkms-firmware", "6.16.6-1", ""),
                                                      ("libdrm-amdgpu1", "2.4.125-1", "")],
             site / "rocm" / "apt" / ROCM: [("rocm", "7.2.1-1", "rocm-core, libdrm-amdgpu1, python3-setuptools"),
                                            ("rocm-core", "7.2.1-1", ""), ("rocm-unused", "7.2.1-1", "")]}
    for root, debs in repos.items():
        pool = root / "pool" / "main"
        pool.mkdir(parents=True)
        for name, version, depends in debs:
            build_deb(pool, name, version, depends=depends)
        for built in pool.glob("build-*"):
            shutil.rmtree(built)
        index_apt(root, signer, root / "dists" / "jammy", "pool", "main/binary-amd64/Packages", "jammy")


@pytest.fixture(scope="module")
def vendor(tmp_path_factory):
    """Signed NVIDIA- and AMD-shaped repositories on loopback: (base URL, site dir, signer)."""
    site = tmp_path_factory.mktemp("vendor-site")
    signer = make_signer(tmp_path_factory.mktemp("gnupg") / "home")
    url, server = serve(site)
    nvidia_apt(site, signer)
    nvidia_dnf(site, signer)
    amd_apt(site / "radeon", signer, f"{url}/radeon")
    yield url, site, signer
    server.shutdown()


def nvidia_repo(vendor, kind: str, **changes):
    url, _, signer = vendor
    repos = vendor_repos([resolve("h200-1", {**H200, "nvidia_repo_url": f"{url}/cuda"})])
    repo = next(r for r in repos if r.kind == kind and r.distribution == ("rhel-9" if kind == DNF else "debian-12"))
    signed = {"key_fingerprint": signer.fingerprint} if kind == APT else {
        "key_sha256": key_sum_without_version(signer.armored())}
    return dataclasses.replace(repo, **{**signed, **changes})


def amd_repo(vendor, **changes):
    url, _, signer = vendor
    repos = vendor_repos([resolve("mi300x-1", {**MI300X, "amd_repo_url": f"{url}/radeon"})])
    repo = next(r for r in repos if r.kind == APT and r.distribution == "ubuntu-22.04")
    return dataclasses.replace(repo, **{"key_fingerprint": signer.fingerprint, **changes})


def verify_apt(out: Path, release_dir: Path, signer: Signer, tmp: Path) -> str:
    """gpgv on the mirrored InRelease with the vendor's key alone, and each index against its sums."""
    ring = tmp / "vendor.gpg"
    ring.write_bytes(signer.binary())
    text = tmp / "release.txt"
    subprocess.run(["gpgv", "--keyring", str(ring), "--output", str(text), str(release_dir / "InRelease")],
                   check=True, capture_output=True)
    release = text.read_text()
    for line in release.split("SHA256:")[1].splitlines():
        if line.strip():
            sha256, size, name = line.split()
            data = (release_dir / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256 and len(data) == int(size), name
    return release


def mirrored_debs(out: Path) -> set[str]:
    return {p.name for p in out.rglob("*.deb")}


def test_nvidia_apt_mirror_holds_the_pins_and_their_closure_and_verifies_with_the_vendors_key(vendor, tmp_path):
    url, site, signer = vendor
    out = tmp_path / "out"
    result = mirror_repo(nvidia_repo(vendor, APT), out, Fetcher(), f"{url}/cuda")
    root = out / "apt" / "nvidia" / "debian12" / "x86_64"
    assert (root / "InRelease").read_bytes() == (site / "cuda/debian12/x86_64/InRelease").read_bytes()
    verify_apt(out, root, signer, tmp_path)
    assert mirrored_debs(out) == {
        "cuda-keyring_1.1-1_all.deb", f"nvidia-open-580_{PIN}-1_amd64.deb", f"nvidia-kernel-open-580_{PIN}-1_amd64.deb",
        f"libnvidia-compute-580_{PIN}-1_amd64.deb",  # unversioned dependency: the driver's pin, as apt's preference
        f"cuda-drivers-580_{PIN}-1_amd64.deb", f"nvidia-fabricmanager-580_{PIN}-1_amd64.deb",
        "cuda-toolkit-13-0_13.0.1-1_amd64.deb", "cuda-cudart-13-0_13.0.1-1_amd64.deb"}
    assert {"dkms", "libc6"} <= result.from_distribution
    # Every file the Packages index names for a bundled package resolves where apt looks for it.
    for deb in root.glob("*.deb"):
        assert deb.read_bytes() == (site / "cuda/debian12/x86_64" / deb.name).read_bytes()
    assert sorted(result.written) == sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_apt_itself_accepts_the_mirror_with_the_vendors_key_and_refuses_it_without(vendor, tmp_path):
    url, _, signer = vendor
    out = tmp_path / "out"
    mirror_repo(nvidia_repo(vendor, APT), out, Fetcher(), f"{url}/cuda")
    ring = tmp_path / "vendor.gpg"
    ring.write_bytes(signer.binary())

    def update(keyring: Path) -> subprocess.CompletedProcess:
        sources = tmp_path / "sources.list"
        sources.write_text(f"deb [signed-by={keyring}] file:{out}/apt/nvidia/debian12/x86_64/ /\n")
        state = tmp_path / "state"
        (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        return subprocess.run(["apt-get", "-q", "-o", f"Dir::Etc::SourceList={sources}", "-o",
                               "Dir::Etc::SourceParts=/nonexistent", "-o", f"Dir::State::Lists={state}/lists",
                               "-o", f"Dir::Cache={state}/cache", "-o", "Dir::State::status=/dev/null",
                               "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "update"],
                              capture_output=True, text=True, check=False)

    accepted = update(ring)
    assert accepted.returncode == 0 and "W:" not in accepted.stdout + accepted.stderr, accepted.stderr
    other = make_signer(tmp_path / "other")
    foreign = tmp_path / "foreign.gpg"
    foreign.write_bytes(other.binary())
    refused = update(foreign)
    assert "NO_PUBKEY" in refused.stdout + refused.stderr or refused.returncode != 0


def test_amd_mirror_reads_the_repositories_from_the_installer_and_resolves_across_them(vendor, tmp_path):
    url, _, signer = vendor
    out = tmp_path / "out"
    result = mirror_repo(amd_repo(vendor), out, Fetcher(), f"{url}/radeon")
    amd = out / "apt" / "amd"
    assert (amd / "amdgpu-install" / ROCM / "ubuntu/jammy" / f"amdgpu-install_{ROCM_VERSION}_all.deb").is_file()
    for release in (amd / "amdgpu/30.30.1/ubuntu/dists/jammy", amd / f"rocm/apt/{ROCM}/dists/jammy"):
        verify_apt(out, release, signer, tmp_path)
    assert mirrored_debs(out) == {f"amdgpu-install_{ROCM_VERSION}_all.deb", "amdgpu-dkms_6.16.6-1_amd64.deb",
                                  "amdgpu-dkms-firmware_6.16.6-1_amd64.deb", "libdrm-amdgpu1_2.4.125-1_amd64.deb",
                                  "rocm_7.2.1-1_amd64.deb", "rocm-core_7.2.1-1_amd64.deb"}
    assert (amd / "amdgpu/30.30.1/ubuntu/pool/main/libdrm-amdgpu1_2.4.125-1_amd64.deb").is_file()
    assert {"dkms", "python3-setuptools", "python3-wheel"} <= result.from_distribution


def test_nvidia_dnf_mirror_keeps_the_signed_repomd_and_the_closure(vendor, tmp_path):
    url, site, signer = vendor
    out = tmp_path / "out"
    result = mirror_repo(nvidia_repo(vendor, DNF), out, Fetcher(), f"{url}/cuda")
    root = out / "dnf" / "nvidia" / "rhel9" / "x86_64"
    signer.gpg("--verify", str(root / "repodata/repomd.xml.asc"), str(root / "repodata/repomd.xml"))
    assert (root / "repodata/repomd.xml").read_bytes() == (site / "cuda/rhel9/x86_64/repodata/repomd.xml").read_bytes()
    primary = next((root / "repodata").glob("*-primary.xml.gz"))
    assert primary.name.startswith(hashlib.sha256(primary.read_bytes()).hexdigest())
    assert {p.name for p in root.rglob("*.rpm")} == {
        f"nvidia-open-{PIN}-1.el9.x86_64.rpm", f"nvidia-kmod-common-{PIN}-1.el9.x86_64.rpm",
        f"nvidia-fabricmanager-{PIN}-1.x86_64.rpm", "cuda-toolkit-13-0-13.0.1-1.x86_64.rpm",
        "cuda-cudart-13-0-13.0.1-1.x86_64.rpm"}
    assert {"dkms", "/bin/sh"} <= result.from_distribution
    assert (root / "D42D0685.pub").read_bytes() == signer.armored()


# ---- refused ----


def tampered_copy(vendor, tmp_path: Path, relative: str, change) -> str:
    """A copy of the vendor's site with one file changed, served on its own; its base URL."""
    url, site, _ = vendor
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    path = copy / relative
    path.write_bytes(change(path.read_bytes()))
    served, server = serve(copy)
    tampered_copy.servers.append(server)
    return served


tampered_copy.servers = []


@pytest.fixture(autouse=True)
def _stop_tampered_servers():
    yield
    while tampered_copy.servers:
        tampered_copy.servers.pop().shutdown()


def test_a_deb_that_is_not_the_one_packages_lists_is_refused_and_not_written(vendor, tmp_path):
    deb = f"cuda/debian12/x86_64/nvidia-open-580_{PIN}-1_amd64.deb"
    served = tampered_copy(vendor, tmp_path, deb, lambda data: data + b"\0")
    out = tmp_path / "out"
    with pytest.raises(MirrorError, match=rf"nvidia-open-580_{PIN}-1_amd64.deb: its sha256 is not the one"):
        mirror_repo(nvidia_repo(vendor, APT, base_url=f"{served}/cuda"), out, Fetcher(), f"{served}/cuda")
    assert not list(out.rglob("nvidia-open-580_*"))


def test_a_changed_inrelease_is_refused(vendor, tmp_path):
    served = tampered_copy(vendor, tmp_path, "cuda/debian12/x86_64/InRelease",
                           lambda data: data.replace(b"Label: Test Vendor", b"Label: Test Vendr"))
    with pytest.raises(MirrorError, match=r"InRelease: its signature does not verify with the vendor's key"):
        mirror_repo(nvidia_repo(vendor, APT, base_url=f"{served}/cuda"), tmp_path / "out", Fetcher(),
                    f"{served}/cuda")


def test_a_packages_index_other_than_the_signed_release_gives_is_refused(vendor, tmp_path):
    served = tampered_copy(vendor, tmp_path, "cuda/debian12/x86_64/Packages", lambda data: data + b"\n")
    with pytest.raises(MirrorError, match=r"x86_64/Packages: its sha256 is not the one the signed Release gives"):
        mirror_repo(nvidia_repo(vendor, APT, base_url=f"{served}/cuda"), tmp_path / "out", Fetcher(),
                    f"{served}/cuda")


def test_a_keyring_package_with_another_key_is_refused(vendor, tmp_path):
    with pytest.raises(MirrorError, match=r"cuda-keyring_1.1-1_all.deb \(usr/share/keyrings/cuda-archive-keyring"
                                          r".gpg\): the key is .*, not the vendor's EB693B30"):
        mirror_repo(nvidia_repo(vendor, APT, key_fingerprint=CATALOG.nvidia.repository.key_fingerprint),
                    tmp_path / "out", Fetcher(), vendor[0])


def test_a_tampered_rpm_and_a_tampered_repomd_are_refused(vendor, tmp_path):
    rpm = f"cuda/rhel9/x86_64/Packages/nvidia-open-{PIN}-1.el9.x86_64.rpm"
    served = tampered_copy(vendor, tmp_path / "a", rpm, lambda data: b"evil " + data)
    with pytest.raises(MirrorError, match=rf"nvidia-open-{PIN}-1.el9.x86_64.rpm: its sha256 is not the one"):
        mirror_repo(nvidia_repo(vendor, DNF, base_url=f"{served}/cuda"), tmp_path / "out", Fetcher(), served)
    served = tampered_copy(vendor, tmp_path / "b", "cuda/rhel9/x86_64/repodata/repomd.xml",
                           lambda data: data.replace(b"<revision>1<", b"<revision>2<"))
    with pytest.raises(MirrorError, match=r"repomd.xml: its signature does not verify"):
        mirror_repo(nvidia_repo(vendor, DNF, base_url=f"{served}/cuda"), tmp_path / "out", Fetcher(), served)


def test_an_rpm_key_without_nvidias_published_sum_is_refused(vendor, tmp_path):
    with pytest.raises(MirrorError, match=r"D42D0685.pub: not the key NVIDIA publishes the sum"):
        mirror_repo(nvidia_repo(vendor, DNF, key_sha256="0" * 64), tmp_path / "out", Fetcher(), vendor[0])


def test_a_pinned_driver_the_repository_lacks_names_host_field_and_package(vendor, tmp_path):
    url = vendor[0]
    plan = resolve("h200-7", {**H200, "nvidia_repo_url": f"{url}/cuda", "nvidia_driver_version": "580.1.2"})
    repo = next(r for r in vendor_repos([plan]) if r.kind == APT and r.distribution == "debian-12")
    repo = dataclasses.replace(repo, key_fingerprint=vendor[2].fingerprint)
    with pytest.raises(MirrorError) as error:
        mirror_repo(repo, tmp_path / "out", Fetcher(), f"{url}/cuda")
    assert str(error.value).startswith("host h200-7: field nvidia_repo_url: cuda-drivers-580 580.1.2 is not in "
                                       f"{url}/cuda/debian12/x86_64 (debian-12, x86_64)")


def test_the_amd_installer_naming_a_repository_outside_amds_tree_is_refused():
    amd = CATALOG.amd.repository.base_url
    files = {"etc/apt/sources.list.d/rocm.list": f"deb [arch=amd64] {amd}/rocm/apt/7.2.1 jammy main\n".encode(),
             "etc/apt/sources.list.d/other.list": b"deb https://elsewhere.example/apt jammy main\n"}
    with pytest.raises(MirrorError, match=r"other.list: names https://elsewhere.example/apt, outside the vendor's"):
        apt_sources_of(files, "http://mirror.lab.example/radeon", amd)
    files.pop("etc/apt/sources.list.d/other.list")
    (source,) = apt_sources_of(files, "http://mirror.lab.example/radeon", amd)
    assert (source.path, source.suite, source.components) == ("rocm/apt/7.2.1", "jammy", ("main",))


# ---- version orderings the closure picks with ----


@pytest.mark.parametrize(("a", "b", "order"), [("1.0-1", "1.0-2", -1), ("1:0.9", "2.0", 1), ("1.0~rc1", "1.0", -1),
                                               ("580.105.08-1", "580.65.06-1", 1), ("1.0a", "1.0", 1),
                                               ("2.4.125-1", "2.4.125-1", 0)])
def test_debian_version_order(a, b, order):
    assert deb_version_compare(a, b) == order and deb_version_compare(b, a) == -order


@pytest.mark.parametrize(("a", "b", "order"), [("580.105.08", "580.65.06", 1), ("1.0~rc1", "1.0", -1),
                                               ("1.0^git1", "1.0", 1), ("1.el9", "1.el9", 0), ("1.0a", "1.0.1", -1)])
def test_rpm_version_order(a, b, order):
    assert rpm_version_compare(a, b) == order and rpm_version_compare(b, a) == -order


# ---- the bundle's vendor part (glmstack.vendor_bundle) ----


def signed_by(signer: Signer):
    """The catalog with the vendors' keys replaced by the throwaway one (plans carry the catalog's)."""
    nvidia = CATALOG.nvidia.repository.model_copy(update={"key_fingerprint": signer.fingerprint,
                                                          "rpm_key_sha256": key_sum_without_version(signer.armored())})
    amd = CATALOG.amd.repository.model_copy(update={"key_fingerprint": signer.fingerprint})
    return CATALOG.model_copy(update={"nvidia": CATALOG.nvidia.model_copy(update={"repository": nvidia}),
                                      "amd": CATALOG.amd.model_copy(update={"repository": amd})})


@pytest.fixture(scope="module")
def a3_set(tmp_path_factory):
    from glmstack.lab.ascend import write_package_set

    directory = tmp_path_factory.mktemp("a3-set")
    write_package_set(directory, "ascend-a3", "aarch64", {"driver": "25.5.1", "firmware": "7.8.0.6.201",
                                                         "toolkit": "9.1.0", "ops": "9.1.0", "nnal": "9.1.0"})
    return directory


A3 = {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40}


@pytest.fixture(scope="module")
def bundled(vendor, a3_set, tmp_path_factory):
    """The vendor part of a bundle for an H200 (Debian 12 and RHEL 9) and an A3 host."""
    from glmstack.config import resolve_inventory
    from glmstack.vendor_bundle import write_vendor_parts

    url, _, signer = vendor
    catalog = signed_by(signer)
    plans = resolve_inventory([("h200-1", {**H200, "nvidia_repo_url": f"{url}/cuda"}),
                               ("a3-1", {**A3, "ascend_packages": str(a3_set)})], catalog)
    out = tmp_path_factory.mktemp("bundle")
    parts = write_vendor_parts(plans, out, Fetcher(), catalog, distributions=["debian-12", "rhel-9"])
    files = {name: {"sha256": hashlib.sha256((out / name).read_bytes()).hexdigest()} for name in parts.written}
    return out, parts, {plan.host: plan for plan in plans}, {"vendor": parts.index, "files": files}


def test_the_vendor_part_holds_both_mirrors_the_ascend_set_and_an_index(bundled, a3_set):
    out, parts, _, _ = bundled
    index = parts.index
    keys = {entry["key"] for entry in index["repositories"]}
    assert keys == {"apt/nvidia/debian12/x86_64 debian-12 x86_64", "dnf/nvidia/rhel9/x86_64 rhel-9 x86_64"}
    deb = next(e for e in index["repositories"] if e["kind"] == "apt")
    assert f"nvidia-open-580={PIN}-1" in deb["bundled"] and deb["hosts"] == ["h200-1"]
    assert f"nvidia-open-580={PIN}" in deb["pins"]
    assert "dkms" in parts.from_distribution["debian-12"]
    ascend = out / "ascend" / "ascend-a3"
    for installer in a3_set.glob("*.run"):
        assert (ascend / installer.name).read_bytes() == installer.read_bytes()
    assert sorted(parts.written) == sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_a_deploy_from_the_bundle_finds_everything_its_hosts_need(bundled):
    from glmstack.vendor_bundle import bundle_vendor_problems

    out, _, plans, document = bundled
    assert bundle_vendor_problems(plans["h200-1"], out, document) == []
    assert bundle_vendor_problems(plans["a3-1"], out, document) == []


def test_a_host_pinned_to_a_driver_the_bundle_lacks_is_refused_naming_the_package(bundled):
    from glmstack.vendor_bundle import bundle_vendor_problems

    out, _, _, document = bundled
    plan = resolve("h200-2", {**H200, "nvidia_driver_version": OLD})
    problems = bundle_vendor_problems(plan, out, document)
    assert ("bundle", f"apt/nvidia/debian12/x86_64: nvidia-open-580 {OLD} is not in the bundle (debian-12 x86_64); "
                      "make the bundle again from this inventory") in problems


def test_a_missing_or_altered_file_of_the_vendor_part_is_named(bundled, tmp_path):
    from glmstack.vendor_bundle import bundle_vendor_problems

    out, parts, plans, document = bundled
    copy = tmp_path / "bundle"
    shutil.copytree(out, copy)
    release = "apt/nvidia/debian12/x86_64/InRelease"
    (copy / release).write_bytes((copy / release).read_bytes() + b"\n")
    deb = next(name for name in parts.written if name.endswith(f"cuda-drivers-580_{PIN}-1_amd64.deb"))
    (copy / deb).unlink()
    problems = bundle_vendor_problems(plans["h200-1"], copy, document)
    assert ("bundle", f"{release}: its sha256 is not the manifest's (a changed or corrupted file)") in problems
    assert ("bundle", f"{deb}: not in the bundle") in problems


def test_an_ascend_host_without_its_set_cannot_be_bundled(vendor, tmp_path):
    from glmstack.vendor_bundle import VendorBundleError, write_vendor_parts

    with pytest.raises(VendorBundleError) as error:
        write_vendor_parts([resolve("a3-9", A3)], tmp_path)
    assert str(error.value).startswith("host a3-9: field ascend_packages: a bundle carries the Ascend package set")


def test_what_the_vendors_packages_need_from_the_distribution_is_what_it_has():
    from glmstack.vendor_bundle import VendorParts, distribution_packages

    parts = VendorParts(from_distribution={"debian-12": {"dkms", "libc6", "nvidia-kernel-dkms | dkms-alt | dkms",
                                                         "ubuntu-only-package", "/bin/sh"}})
    have = {"dkms", "libc6"}
    assert distribution_packages(parts, "debian-12", lambda names: have & set(names)) == ["dkms", "libc6"]
    assert distribution_packages(parts, "ubuntu-24.04", lambda names: set(names)) == []


def test_an_amd_installer_without_apt_sources_is_refused(vendor, tmp_path):
    url, site, signer = vendor
    copy = tmp_path / "site"
    shutil.copytree(site / "radeon", copy)
    installer = copy / "amdgpu-install" / ROCM / "ubuntu" / "jammy"
    for deb in installer.glob("*.deb"):
        deb.unlink()
    for built in installer.glob("build-*"):
        shutil.rmtree(built)
    build_deb(installer, "amdgpu-install", ROCM_VERSION, "all", files={"etc/apt/keyrings/rocm.gpg": signer.binary()})
    served, server = serve(copy)
    try:
        with pytest.raises(MirrorError, match=r"amdgpu-install_.*_all.deb: ships no apt sources"):
            mirror_repo(amd_repo(vendor, base_url=served), tmp_path / "out", Fetcher(), served)
    finally:
        server.shutdown()


def test_a_distribution_glmstack_does_not_support_is_refused_before_anything_is_fetched(tmp_path):
    from glmstack.bundle import BundleError
    from glmstack.vendor_bundle import write_vendor_parts

    with pytest.raises(BundleError, match=r"^vendor distribution debian12: not one glmstack supports; allowed: "
                                          r"debian-12, rhel-9, ubuntu-22.04, ubuntu-24.04$"):
        write_vendor_parts([resolve("h200-1", H200)], tmp_path, distributions=["debian12"])
    assert not any(tmp_path.iterdir())
