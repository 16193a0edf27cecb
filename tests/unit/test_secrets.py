"""Secrets by type: host data holding one outside a secret-file setting is refused, the refusal never
shows it, and `glmstack plan` (text and JSON), `render` and `drift` redact whatever reaches them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from glmstack import cli
from glmstack.cli import main
from glmstack.config import HostDataError, InventoryError, resolve
from glmstack.drift import DriftReport, HostDrift
from glmstack.paths import REPO_ROOT
from glmstack.planning import plan_inventory
from glmstack.secrets import SECRET_SHAPES, redact, redact_data, secret_in

HUB = "hf_" + "Qw3rTy7uIo9pAs1dFg5hJk2lZx8cVb4nMz"
OPENAI = "sk-proj-" + "Zq8vR2mX9pL4kT7wB3nYc6Dd"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS = "AKIA" + "IOSFODNN7EXAMPL3"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsYWIifQ.c2lnbmF0dXJlLXZhbHVl"
PASSWORD = "pw-Lk29xQz"  # in user:password@
SIGNATURE = "0a1b2c3d4e5f60718293"  # a presigned URL's signature
RANDOM = "Zq8vR2mX9pL4kT7wB3nYc6"  # a long random value after an option named for a secret
SECRETS = (HUB, OPENAI, GITHUB, AWS, JWT, PASSWORD, SIGNATURE, RANDOM)

CPU = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_source": "/srv/m",
       "model_entry": "a.gguf"}
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


def test_every_shape_is_recognised_and_redacted():
    for secret in (HUB, OPENAI, GITHUB, AWS, JWT):
        assert secret_in(f"x {secret} y") is not None
        assert secret not in redact(f"x {secret} y")
    assert {shape.what for shape in SECRET_SHAPES} >= {"a Hugging Face token (hf_...)", "a JSON Web Token"}


@pytest.mark.parametrize("text", [
    f"https://lab:{PASSWORD}@proxy.lab.example:3128", f"ssh://git:{PASSWORD}@git.lab.example/x.git",
    f"https://bucket.example/o?X-Amz-Credential=a&X-Amz-Signature={SIGNATURE}",
    f"https://storage.example/o?X-Goog-Signature={SIGNATURE}", f"https://h.example/x?sig={SIGNATURE}&sv=1",
    f"--api-key {RANDOM}", f"--api-key={RANDOM}", f"--registry-token {RANDOM}", f"HF_TOKEN={RANDOM}",
    f'AWS_SECRET_ACCESS_KEY="{RANDOM}"',
])
def test_redact_hides_each_kind(text):
    assert not any(secret in redact(text) for secret in SECRETS), redact(text)


@pytest.mark.parametrize("text", [
    "ssh://git@github.com/ggml-org/llama.cpp.git", "--max-num-batched-tokens 8192", "--tokenizer /srv/tok",
    "TOKENIZERS_PARALLELISM=false", "https://pypi.org/simple", "a" * 64, "--bucket-time-to-first-token 0.1,0.5",
])
def test_redact_leaves_what_is_no_secret(text):
    assert redact(text) == text
    assert secret_in(text) is None


# Every free-form or URL setting, holding a secret: refused, and the refusal never shows it.
CASES = {
    "extra_flags-value": (H200, {"extra_flags": ["--otlp-traces-endpoint", JWT]}),
    "extra_flags-api-key": (CPU, {"extra_flags": ["--api-key", RANDOM]}),
    "extra_flags-api-key=": (CPU, {"extra_flags": [f"--api-key={RANDOM}"]}),
    "extra_flags-named": (H200, {"extra_flags": ["--registry-token", RANDOM]}),
    "extra_env-value": (H200, {"extra_env": {"HF_HUB_CACHE": HUB}}),
    "extra_env-url": (H200, {"extra_env": {"PIP_INDEX_URL": f"https://b:{PASSWORD}@pypi.lab.example/simple"}}),
    "extra_env-name": (H200, {"extra_env": {"HF_TOKEN": HUB}}),
    "http-proxy": (H200, {"base_http_proxy": f"http://lab:{PASSWORD}@proxy.lab.example:3128"}),
    "https-proxy": (H200, {"base_https_proxy": f"http://proxy.lab.example:3128/?token={SIGNATURE}"}),
    "no-proxy": (H200, {"base_no_proxy": f"localhost,{OPENAI}"}),
    "hf-endpoint": (H200, {"model_hf_endpoint": f"https://hub.lab.example/?X-Goog-Signature={SIGNATURE}"}),
    "model-source": (CPU, {"model_source": f"https://b.example/m?X-Amz-Signature={SIGNATURE}",
                           "model_files": {"a.gguf": "a" * 64}}),
    "engine-requirement": (H200, {"engine_requirement": f"vllm @ https://w.example/v.whl?sig={SIGNATURE}"
                                                        f"#sha256={'a' * 64}"}),
    "engine-requirement-pattern": (H200, {"engine_requirement": f"vllm @ ssh://git:{PASSWORD}@h/r.git"}),
    "llamacpp-source": (CPU, {"llamacpp_source": f"ssh://git:{PASSWORD}@git.lab.example/llama.cpp.git"}),
    "cmake-flags": (CPU, {"llamacpp_cmake_flags": [f"-DKEY={AWS}"]}),
    "packages": (CPU, {"base_packages": [GITHUB]}),
    "token-as-token-file": (H200, {"model_hf_token_file": HUB}),
    "key-as-key-file": (H200, {"service_api_key_file": OPENAI}),
    "served-name": (H200, {"served_model_name": f"glm {HUB}"}),
    "index-url": ({"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend",
                   "model_revision": "0" * 40}, {"ascend_pip_extra_index_urls": [f"https://p.example/s?token={RANDOM}"]}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_secret_in_host_data_is_refused_without_being_shown(name):
    base, extra = CASES[name]
    with pytest.raises(HostDataError) as error:
        resolve("n", {**base, **extra})
    text = str(error.value)
    assert text.startswith("host n: field ") and "\n" not in text, text
    assert not any(secret in text for secret in SECRETS), text


def _inventory(tmp_path, data: dict) -> str:
    path = tmp_path / "inventory.py"
    path.write_text(f"hosts = [({'n.lab.example'!r}, {data!r})]\n")
    return str(path)


@pytest.mark.parametrize("name", ["extra_flags-api-key", "http-proxy", "token-as-token-file", "extra_env-value"])
@pytest.mark.parametrize("json_output", [False, True])
def test_plan_refuses_without_showing_the_secret(tmp_path, capsys, name, json_output):
    base, extra = CASES[name]
    assert main(["plan", _inventory(tmp_path, {**base, **extra}), *(["--json"] if json_output else [])]) == 1
    out = capsys.readouterr()
    assert "field " in out.out + out.err
    assert not any(secret in out.out + out.err for secret in SECRETS), out


@pytest.fixture
def leaky_plan(monkeypatch):
    """A plan holding secrets where host data cannot put them: what plan and render show is redacted."""
    plan = plan_inventory(REPO_ROOT / "inventory/h200.py")[0]
    leaky = dataclasses.replace(
        plan, serve_argv=(*plan.serve_argv, "--api-key", RANDOM, "--otlp-traces-endpoint", JWT),
        serve_env={**plan.serve_env, "HF_TOKEN": HUB, "INDEX": f"https://b:{PASSWORD}@pypi.lab.example/simple",
                   "S3": f"https://b.example/o?X-Amz-Signature={SIGNATURE}"})
    monkeypatch.setattr(cli, "plan_inventory", lambda _: [leaky])
    return leaky


@pytest.mark.parametrize("command", [["plan"], ["plan", "--json"], ["render", "h200-1.lab.example"]])
def test_plan_and_render_redact_what_reaches_them(leaky_plan, capsys, command):
    main([command[0], str(REPO_ROOT / "inventory/h200.py"), *command[1:]])
    out = capsys.readouterr()
    assert "<redacted>" in out.out + out.err
    assert not any(secret in out.out + out.err for secret in SECRETS), out
    if command == ["plan", "--json"]:
        assert json.loads(out.out)["hosts"][0]["env"]["HF_TOKEN"] == "<redacted>"


@pytest.mark.parametrize("json_output", [False, True])
def test_drift_redacts_the_commands_it_shows(monkeypatch, capsys, json_output):
    report = DriftReport([HostDrift("n", "drift", [{"operation": "Configure apt proxy",
                                                   "would_run": f"echo {HUB} --api-key {RANDOM}"}])], 0.1,
                         error=f"failed at https://lab:{PASSWORD}@proxy.lab.example")
    monkeypatch.setattr("glmstack.drift.check_drift", lambda _: report)
    main(["drift", "inventory.py", *(["--json"] if json_output else [])])
    out = capsys.readouterr()
    assert "would run" in out.err or '"would_run"' in out.out
    assert not any(secret in out.out + out.err for secret in SECRETS), out


def test_inventory_errors_are_redacted_whoever_raises_them():
    assert HUB not in str(InventoryError(f"host n: field x: {HUB}"))


def test_redact_data_walks_documents():
    doc = redact_data({"command": ["vllm", "--api-key", "short", "--port", "8000"], "env": {"API_TOKEN": "x"},
                       "nested": [{"url": f"https://u:{PASSWORD}@h"}]})
    assert doc == {"command": ["vllm", "--api-key", "<redacted>", "--port", "8000"], "env": {"API_TOKEN": "<redacted>"},
                   "nested": [{"url": "https://<redacted>@h"}]}


CORPUS = REPO_ROOT / "tests" / "badinput"


def test_a_pem_ca_certificate_is_accepted():
    plan = resolve("n", {**H200, "base_extra_ca_certs": [str(CORPUS / "lab-test-ca.crt")]})
    assert [path.name for path in plan.config.base_extra_ca_certs] == ["lab-test-ca.crt"]


@pytest.mark.parametrize("content, problem", [
    (b"\x30\x82\x01\xa8" + bytes(100), "is not PEM text"),
    (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", "not a certificate"),
    (b"-----BEGIN EC PRIVATE KEY-----\nTk9UIEEgS0VZ\n-----END EC PRIVATE KEY-----\n", "holds a private key"),
    (b"", "is not PEM certificates"),
])
def test_a_ca_file_that_is_not_certificates_is_refused_without_its_content(tmp_path, content, problem):
    path = tmp_path / "ca.crt"
    path.write_bytes(content)
    with pytest.raises(HostDataError) as error:
        resolve("n", {**H200, "base_extra_ca_certs": [str(path)]})
    assert f"field base_extra_ca_certs: item 1 ({path}) " in str(error.value) and problem in str(error.value)
    assert "Tk9UIEEgS0VZ" not in str(error.value)


@pytest.mark.parametrize("text", ["a" * 1_500_000, "--x " * 400_000, "a=b " * 400_000, "http://" * 200_000])
def test_looking_for_secrets_takes_linear_time(text):
    import time

    started = time.monotonic()
    secret_in(text)
    redact(text)
    assert time.monotonic() - started < 5
