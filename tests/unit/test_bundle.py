"""The bundle's layout and manifest: written last, every file's sum checked, a changed file named."""

from __future__ import annotations

import json

import pytest

from glmstack.bundle import (
    MANIFEST,
    BundleError,
    HostNeeds,
    bundle_source_problem,
    check_relative,
    host_manifest_lines,
    host_needs,
    read_manifest,
    repo_id,
    verify_bundle,
    write_manifest,
)
from glmstack.bundling import lock_python_set, pip_platforms, set_id
from roles.engine.plan import EnvTarget


def small_bundle(root):
    (root / "apt/repo/pool").mkdir(parents=True)
    (root / "apt/repo/pool/a.deb").write_bytes(b"deb")
    (root / "llama.cpp").mkdir()
    (root / "llama.cpp/llama.cpp-abc.tar.gz").write_bytes(b"tar")
    needs = HostNeeds(apt_packages=["curl"], apt_repos=["repo"], llamacpp_source="llama.cpp/llama.cpp-abc.tar.gz")
    write_manifest(root, "inv.py", {"node-1": needs})
    return needs


def test_manifest_lists_every_file_with_its_sum(tmp_path):
    small_bundle(tmp_path)
    document = json.loads((tmp_path / MANIFEST).read_text())
    assert document["format"] == 1
    assert sorted(document["files"]) == ["apt/repo/pool/a.deb", "llama.cpp/llama.cpp-abc.tar.gz"]
    assert document["files"]["apt/repo/pool/a.deb"]["size"] == 3
    assert document["hosts"]["node-1"]["apt_repos"] == ["repo"]
    assert not list(tmp_path.glob(".*partial"))
    verify_bundle(tmp_path)


def test_an_altered_file_is_refused_by_name(tmp_path):
    small_bundle(tmp_path)
    (tmp_path / "apt/repo/pool/a.deb").write_bytes(b"DEB")
    with pytest.raises(BundleError, match=r"file apt/repo/pool/a.deb does not match the manifest's sha256"):
        verify_bundle(tmp_path)
    # Only the parts a host needs are checked when asked.
    verify_bundle(tmp_path, ["llama.cpp/llama.cpp-abc.tar.gz"])


def test_a_missing_file_is_refused_by_name(tmp_path):
    small_bundle(tmp_path)
    (tmp_path / "llama.cpp/llama.cpp-abc.tar.gz").unlink()
    with pytest.raises(BundleError, match=r"file llama.cpp/llama.cpp-abc.tar.gz of the manifest is missing"):
        verify_bundle(tmp_path)


def test_a_bundle_without_manifest_is_half_written(tmp_path):
    (tmp_path / "apt").mkdir()
    with pytest.raises(BundleError, match="no manifest.json: not a bundle, or one whose writing did not finish"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "apt/../../x", "other/x", "apt/a b", "apt//x"])
def test_manifest_paths_stay_inside_the_bundle(path):
    with pytest.raises(BundleError, match="is not a plain relative path|outside the bundle's parts"):
        check_relative(path)


def test_a_manifest_naming_a_path_outside_is_refused(tmp_path):
    small_bundle(tmp_path)
    document = json.loads((tmp_path / MANIFEST).read_text())
    document["files"]["../../etc/shadow"] = {"sha256": "0" * 64, "size": 1}
    (tmp_path / MANIFEST).write_text(json.dumps(document))
    with pytest.raises(BundleError, match="'../../etc/shadow' is not a plain relative path"):
        read_manifest(tmp_path)


def test_a_manifest_of_another_format_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 99, "files": {}, "hosts": {}}))
    with pytest.raises(BundleError, match="format 99 is not one this glmstack reads; allowed: 1"):
        read_manifest(tmp_path)


def test_host_needs_and_the_host_check_file(tmp_path):
    needs = small_bundle(tmp_path)
    document = read_manifest(tmp_path)
    assert host_needs(document, "node-1") == needs
    assert needs.parts() == ["apt/repo", "llama.cpp/llama.cpp-abc.tar.gz"]
    with pytest.raises(BundleError, match="host other: field bundle: the bundle was made for node-1"):
        host_needs(document, "other")
    lines = host_manifest_lines(document["files"]).splitlines()
    assert lines[0].endswith("  apt/repo/pool/a.deb") and len(lines[0].split()[0]) == 64


def test_bundle_sources(tmp_path):
    assert bundle_source_problem("http://10.0.0.1:8080/bundle") is None
    assert bundle_source_problem("https://mirror.lab/b/") is None
    assert "not an http(s) URL" in bundle_source_problem("ftp://10.0.0.1/bundle")
    assert "credentials" in bundle_source_problem("http://user:pw@10.0.0.1/bundle")
    assert "allowed: an absolute directory" in bundle_source_problem("relative/bundle")
    assert "not a directory on this machine" in bundle_source_problem(str(tmp_path / "absent"))
    assert "has no manifest.json" in bundle_source_problem(str(tmp_path))
    assert "control character" in bundle_source_problem(str(tmp_path) + "\n")
    small_bundle(tmp_path)
    assert bundle_source_problem(str(tmp_path)) is None


def test_repository_ids_are_one_directory_name():
    ident = repo_id("http://mirror.example/debian-security/")
    assert ident == "mirror.example-debian-security"
    assert "/" not in repo_id("https://a.example:8443/x/y/")


def test_pip_takes_every_manylinux_tag_the_target_meets():
    tags = pip_platforms(EnvTarget("3.11", "x86_64", "2.28"))
    assert tags[0] == "manylinux_2_28_x86_64"
    assert "manylinux_2_17_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert "manylinux_2_29_x86_64" not in tags
    assert set_id("hf", EnvTarget("3.11", "x86_64", "2.28")) == "hf-cp311-x86_64-manylinux_2_28"


def test_a_set_is_resolved_for_its_target_with_hashes():
    """uv resolves for the node's Python and platform, not this machine's (PyPI is reached here)."""
    lock = lock_python_set(["huggingface_hub==2.4.0"], EnvTarget("3.10", "aarch64", "2.28"))
    assert "huggingface-hub==2.4.0" in lock
    assert "--hash=sha256:" in lock
    # The aarch64 target's own wheels: hf-xet publishes per platform.
    assert lock.count("--hash=sha256:") > lock.count("==")


def test_bundle_refuses_a_directory_that_is_not_one(tmp_path):
    from glmstack.bundling import make_bundle

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="is a directory with other files, not a bundle"):
        make_bundle("inventory/cpu.py", tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_link_onto_itself_leaves_no_partial(tmp_path):
    """A second run links each cached .deb onto the link already there (rename does nothing then)."""
    from glmstack.bundle_apt import _copy

    cached = tmp_path / "cache.deb"
    cached.write_bytes(b"deb")
    dest = tmp_path / "apt/r/pool/a.deb"
    _copy(cached, dest)
    _copy(cached, dest)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.deb"]
