"""Plan test of the whole path from a signed vendor repository to a host installing from a bundle:
the bundle's vendor part written from a local repository signed with a throwaway key
(tests/unit/vendor_fixture.py), its manifest listing the host's vendor files; the inventory loads
(the vendor part checked), the base role places and checks those files on the fake host, and the
nvidia role installs from them as file:// URLs, contacting nothing else."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from fakehost import HOST, record_uploads, run_deploy  # first: pyinfra's CLI patches threads and sockets (gevent)
from gpu_states import NvidiaHost

from glmstack.bundle import HostNeeds, write_manifest
from glmstack.catalog import load_catalog
from glmstack.config import InventoryError, resolve_inventory
from glmstack.vendor_bundle import vendor_files_by_host, write_vendor_parts
from glmstack.vendor_mirror import Fetcher

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "unit")]
from test_vendor_mirror import PIN, nvidia_apt, signed_by  # noqa: E402
from vendor_fixture import make_signer, serve  # noqa: E402

pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("gpg", "gpgv", "dpkg-deb", "dpkg-scanpackages")),
                                reason="needs gpg, gpgv, dpkg-deb and dpkg-scanpackages")
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    site = tmp_path_factory.mktemp("vendor-site")
    signer = make_signer(tmp_path_factory.mktemp("gnupg") / "home")
    nvidia_apt(site, signer)
    url, server = serve(site)
    try:
        catalog = signed_by(signer)
        out = tmp_path_factory.mktemp("bundle")
        plans = resolve_inventory([(HOST, {**H200, "nvidia_repo_url": f"{url}/cuda"})], catalog)
        parts = write_vendor_parts(plans, out, Fetcher(), catalog, distributions=["debian-12"])
    finally:
        server.shutdown()
    needs = HostNeeds(vendor_files=vendor_files_by_host(parts.index)[HOST])
    write_manifest(out, "inventory.py", {HOST: needs}, extra={"apt_release": "bookworm", "vendor": parts.index})
    return out, url


def test_the_host_installs_nvidias_packages_from_the_bundle_only(bundle, monkeypatch):
    out, url = bundle
    data = {**H200, "bundle": str(out)}
    uploads = record_uploads(monkeypatch)
    run = run_deploy(data, NvidiaHost(data).responses())
    fetch = "/opt/glmstack/bundle/.fetch.sh"  # the bundle's files checked by sha256sum on the host
    assert "sha256sum" in uploads[fetch] and "apt/nvidia/debian12/x86_64/InRelease" in uploads[fetch]
    assert f"apt/nvidia/debian12/x86_64/nvidia-open-580_{PIN}-1_amd64.deb" in uploads[fetch]
    run.assert_in_order([f"bash {fetch}", "file:///opt/glmstack/bundle/apt/nvidia/debian12/x86_64/cuda-keyring_1.1-1_all.deb",
                         "nvidia-open-580 cuda-drivers-580"])
    assert not any(url in c or load_catalog().nvidia.repository.base_url in c for c in run.commands)


def test_a_host_pinned_to_another_driver_is_refused_before_any_host_is_touched(bundle):
    out, _ = bundle
    with pytest.raises(InventoryError) as error:
        resolve_inventory([(HOST, {**H200, "bundle": str(out), "nvidia_driver_version": "580.65.06"})])
    # Each of the driver's packages at that version, one line each.
    assert str(error.value).splitlines() == [
        f"host {HOST}: field bundle: apt/nvidia/debian12/x86_64: {name} 580.65.06 is not in the bundle (debian-12 "
        "x86_64); make the bundle again from this inventory"
        for name in ("cuda-drivers-580", "nvidia-fabricmanager-580", "nvidia-open-580")]
