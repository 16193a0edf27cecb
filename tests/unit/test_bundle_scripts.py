"""What a host given a bundle runs: every source read from the bundle on the host, nothing fetched from
outside, and the host's own check of the bundle's files against the manifest, run for real."""

from __future__ import annotations

import subprocess

import pytest
from hostdata import CPU_MIRROR
from test_shellcheck import excluded

from glmstack.bundle import HostNeeds, host_manifest_lines, write_manifest
from glmstack.config import resolve
from roles.base.operations import _bundle_repos, _templates
from roles.engine.operations import install_script
from roles.llamacpp.operations import build_script
from roles.model.operations import fetch_script

HF_HOST = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp",
           "model_revision": "a" * 40, "model_entry": "Q2/GLM-5.2-Q2-00001-of-00002.gguf"}


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "apt/repo/dists/bookworm/main/binary-amd64").mkdir(parents=True)
    (tmp_path / "apt/repo/dists/bookworm/main/binary-amd64/Packages.xz").write_bytes(b"xz")
    (tmp_path / "apt/repo/dists/bookworm/InRelease").write_text("signed")
    (tmp_path / "apt/repo/keyring").mkdir()
    (tmp_path / "apt/repo/keyring/archive.gpg").write_bytes(b"key")
    write_manifest(tmp_path, "inv.py", {"n": HostNeeds(apt_repos=["repo"])})
    return str(tmp_path)


def test_the_engine_environment_comes_from_the_bundle_offline(bundle):
    plan = resolve("h1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", "bundle": bundle})
    script = install_script(plan.engine_env)
    env = plan.engine_env
    assert "export UV_OFFLINE=1 UV_NO_INDEX=1" in script
    assert f"/opt/glmstack/bundle/python/{env.install_key}-\"$(" in script
    assert '--offline --no-index --find-links "$1" --require-hashes -r "$1/requirements.txt"' in script
    # Neither uv's nor the engine's packages are asked of an index.
    assert "--extra-index-url" not in script and "--torch-backend" not in script
    assert "pip install --quiet uv==" not in script
    assert not any(requirement in script for requirement in env.requirements)
    # Without a bundle: the index, as before.
    plain = install_script(resolve("h1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}).engine_env)
    assert "--no-index" not in plain and "UV_OFFLINE" not in plain


def test_the_hub_client_comes_from_the_bundle(bundle):
    script = fetch_script(resolve("n", {**HF_HOST, "bundle": bundle}))
    assert "/opt/glmstack/bundle/python/hf-\"$(" in script
    assert "/opt/glmstack/bundle/tools/uv-\"$(" in script
    assert "huggingface_hub==" not in script
    assert "huggingface_hub==" in fetch_script(resolve("n", HF_HOST))


def test_llama_cpp_builds_from_the_bundles_tarball_and_keeps_it(bundle):
    plan = resolve("n", {**CPU_MIRROR, "llamacpp_source": "https://example.invalid/x.tar.gz",
                         "llamacpp_source_sha256": "0" * 64, "bundle": bundle}).llamacpp
    script = build_script(plan)
    tarball = f"/opt/glmstack/bundle/llama.cpp/llama.cpp-{plan.version[:12]}.tar.gz"
    assert plan.source_kind == "bundle" and plan.source == tarball
    assert f"tar -xzf {tarball} " in script
    assert "curl" not in script and "git " not in script and f"rm -f {tarball}" not in script


def test_apt_reads_only_the_bundles_mirrors(bundle):
    from pathlib import Path

    from glmstack.bundle import read_manifest

    files = read_manifest(Path(bundle))["files"]
    repos = _bundle_repos(files, "/opt/glmstack/bundle", ["repo"])
    assert repos == [{"directory": "/opt/glmstack/bundle/apt/repo", "suites": ["bookworm"], "components": ["main"],
                      "keyrings": ["/opt/glmstack/bundle/apt/repo/keyring/archive.gpg"]}]
    sources = _templates.get_template("bundle.sources.j2").render(repos=repos)
    assert "URIs: file:/opt/glmstack/bundle/apt/repo\nSuites: bookworm\nComponents: main\n" in sources
    assert "Signed-By: /opt/glmstack/bundle/apt/repo/keyring/archive.gpg" in sources


def host_check(directory, files, fetch=()):
    script = _templates.get_template("bundle-fetch.sh.j2").render(
        directory=str(directory), fetch=list(fetch), url="http://10.213.0.1:1/b", sums=host_manifest_lines(files))
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True)


def test_the_host_checks_each_file_and_records_what_passed(tmp_path):
    source = tmp_path / "bundle"
    (source / "llama.cpp").mkdir(parents=True)
    (source / "llama.cpp/l.tar.gz").write_bytes(b"tar")
    write_manifest(source, "inv.py", {})
    from glmstack.bundle import read_manifest

    files = read_manifest(source)["files"]
    on_host = tmp_path / "host"
    (on_host / "llama.cpp").mkdir(parents=True)
    (on_host / "llama.cpp/l.tar.gz").write_bytes(b"tar")
    done = host_check(on_host, files)
    assert done.returncode == 0, done.stderr
    assert (on_host / ".verified").read_text() == host_manifest_lines(files)
    # An altered file stops the deploy, named.
    (on_host / "llama.cpp/l.tar.gz").write_bytes(b"TAR")
    refused = host_check(on_host, files)
    assert refused.returncode != 0
    assert "llama.cpp/l.tar.gz: FAILED" in refused.stdout + refused.stderr


def test_the_host_scripts_pass_shellcheck(bundle, tmp_path):
    plan = resolve("h1", {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm", "bundle": bundle})
    fetch = _templates.get_template("bundle-fetch.sh.j2").render(
        directory="/opt/glmstack/bundle", fetch=["apt/r/pool/a.deb"], url="http://10.213.0.1:1/b",
        sums="0" * 64 + "  apt/r/pool/a.deb\n")
    for name, script in (("install", install_script(plan.engine_env)), ("fetch", fetch),
                         ("weights", fetch_script(resolve("n", {**HF_HOST, "bundle": bundle})))):
        path = tmp_path / f"{name}.sh"
        path.write_text(script)
        shell = "bash" if name == "weights" else "sh"
        # What tests/unit/test_shellcheck.py leaves out of these scripts, for the same reasons.
        allowed = {"install": excluded("engine-install"), "weights": excluded("fetch-weights")}.get(name, ())
        checked = subprocess.run(["shellcheck", "-s", shell, "-S", "warning", *allowed, str(path)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
