"""Host data validation: good data resolves to a plan; bad data names host, field and what is allowed."""

import os

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import HostDataError, InventoryError, resolve, validate_inventory
from glmstack.inventory import group

GOOD = CPU_MIRROR


def test_good_data_resolves_to_the_recipe_command_line():
    plan = resolve("node1", {**GOOD, "max_model_len": 2048})
    argv = list(plan.serve_argv)
    assert argv[0].endswith("/bin/llama-server")
    assert argv[argv.index("--alias") + 1] == "glm-5.2-tiny-test"
    assert argv[argv.index("--ctx-size") + 1] == "2048"  # the host override wins
    assert argv[argv.index("--parallel") + 1] == "1"  # the recipe's tunable
    assert argv[argv.index("--model") + 1] == "/var/lib/glmstack/models/glm-5.2-gguf/tiny.gguf"
    assert "--jinja" in argv
    assert plan.seed == "003"
    # The engine behind the gateway, on loopback; clients reach the gateway on the engine's usual port.
    assert plan.health_url == "http://127.0.0.1:18080/health"
    assert plan.gateway.url == "https://node1:8080" and plan.gateway.engine_port == 18080


def test_build_key_follows_version_and_flags():
    base = resolve("n", GOOD).llamacpp
    assert resolve("n", GOOD).llamacpp.build_key == base.build_key
    assert resolve("n", {**GOOD, "llamacpp_cmake_flags": ["-DGGML_AVX512=ON"]}).llamacpp.build_key != base.build_key
    assert resolve("n", {**GOOD, "llamacpp_version": "b9000"}).llamacpp.build_key != base.build_key


def test_extra_flags_come_after_the_recipe():
    argv = resolve("n", {**GOOD, "extra_flags": ["--threads", "32"]}).serve_argv
    assert argv[-2:] == ("--threads", "32")


def test_model_fingerprint_changes_with_the_wanted_bytes():
    one = resolve("n", GOOD).model.fingerprint
    assert resolve("n", GOOD).model.fingerprint == one
    assert resolve("n", {**GOOD, "model_files": {"tiny.gguf": "cd" * 32}}).model.fingerprint != one


def hf_data(**extra):
    data = {k: v for k, v in GOOD.items() if k not in ("model_source", "model_files")}
    return {**data, **extra}


def test_hub_source_needs_a_pinned_commit_and_an_entry():
    with pytest.raises(HostDataError) as error:
        resolve("cpu-7", hf_data())
    text = str(error.value)
    assert "host cpu-7: field model_revision: hf://unsloth/GLM-5.2-GGUF needs a pinned commit" in text
    assert "host cpu-7: field model_entry:" in text


def test_hub_source_with_commit_and_entry_resolves():
    plan = resolve("n", hf_data(model_revision="0" * 40, model_entry="UD-IQ2_XXS/a-00001-of-00002.gguf"))
    assert plan.model.kind == "hf" and plan.model.revision == "0" * 40
    assert plan.model.include == ("UD-IQ2_XXS/*",)


BAD_CASES = {
    "unknown-accelerator": ({"accelerator": "tpu"}, "accelerator", "allowed: ascend-a2, ascend-a3, b200, cpu, gh200"),
    "unknown-model": ({"model": "glm-9"}, "model", "allowed: glm-4.5-bf16, glm-4.5-fp8, glm-5.2-awq-int4"),
    "unknown-engine": ({"engine": "tgi"}, "engine", "allowed: llama.cpp"),
    "missing-accelerator": ({"accelerator": None}, "accelerator", "is required"),
    "port-not-a-number": ({"port": "http"}, "port", "valid integer"),
    "port-out-of-range": ({"port": 70000}, "port", "less than or equal to 65535"),
    "served-name-with-space": ({"served_model_name": "my model"}, "served_model_name", "pattern"),
    "typo-in-role-setting": ({"base_servce_user": "x"}, "base_servce_user", "did you mean base_service_user"),
    "bad-user-name": ({"base_service_user": "Root User"}, "base_service_user", "pattern"),
    "relative-model-source": ({"model_source": "models/tiny"}, "model_source", "allowed are hf://"),
    "mirror-without-files": ({"model_files": {}}, "model_files", "needs every file with its sha256"),
    "entry-not-in-files": ({"model_entry": "other.gguf"}, "model_entry", "not one of model_files"),
    "bad-sha": ({"model_files": {"tiny.gguf": "xyz"}}, "model_files", "64 lowercase hex"),
    "path-escape": ({"model_files": {"../etc/passwd": "ab" * 32}}, "model_files", "relative path inside"),
    "branch-revision": ({"model_source": "hf://unsloth/GLM-5.2-GGUF", "model_revision": "main"},
                        "model_revision", "pattern"),
    "tarball-url-without-sum": ({"llamacpp_source": "https://example.invalid/l.tar.gz"},
                                "llamacpp_source_sha256", "needs its sha256"),
    "missing-local-tarball": ({"llamacpp_source": "/nonexistent/llama.tar.gz"}, "llamacpp_source",
                              "not a tarball on the control machine"),
    "hub-source-without-org": ({"model_source": "hf://GLM-5.2-GGUF", "model_revision": "1" * 40},
                               "model_source", "hf://<org>/<repo>[@<commit>]"),
    "entry-escapes-the-model-dir": ({"model_entry": "../../etc/passwd"}, "model_entry", "relative path inside"),
    "unknown-backend": ({"llamacpp_backend": "metal"}, "llamacpp_backend", "allowed: cpu"),
    "extra-flags-not-a-list": ({"extra_flags": "--threads 8"}, "extra_flags", "valid list"),
}


@pytest.mark.parametrize(("change", "field", "allowed"), BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_data_names_host_field_and_what_is_allowed(change, field, allowed):
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(HostDataError) as error:
        resolve("gpu-node-3", data)
    lines = str(error.value).splitlines()
    matching = [line for line in lines if line.startswith(f"host gpu-node-3: field {field}:")]
    assert matching, f"no line names field {field}: {lines}"
    assert any(allowed in line for line in matching), matching


def test_inline_secret_is_refused_without_echoing_it():
    with pytest.raises(HostDataError) as error:
        resolve("n", {**GOOD, "extra_env": {"HF_TOKEN": "hf_s3cr3tvalue"}})
    assert "field extra_env: HF_TOKEN looks like a secret" in str(error.value)
    assert "hf_s3cr3tvalue" not in str(error.value)


def test_token_file_must_be_private(tmp_path):
    token = tmp_path / "token"
    token.write_text("hf_x")
    os.chmod(token, 0o644)
    with pytest.raises(HostDataError, match="readable by others; chmod 600"):
        resolve("n", {**GOOD, "model_hf_token_file": str(token)})
    os.chmod(token, 0o600)
    assert resolve("n", hf_data(model_hf_token_file=str(token), model_revision="1" * 40,
                                model_entry="a.gguf")).model.token_file == token


def test_every_host_is_reported_together():
    with pytest.raises(InventoryError) as error:
        validate_inventory([("a", {**GOOD, "port": 0}), ("b", GOOD), ("c", {**GOOD, "engine": "x"})])
    text = str(error.value)
    assert "host a: field port" in text and "host c: field engine" in text and "host b" not in text


def test_inventory_group_exits_with_the_message(capsys):
    with pytest.raises(SystemExit) as exit_info:
        group([("n1", {"port": "x"})], **GOOD)
    assert exit_info.value.code == 2
    assert "host n1: field port" in capsys.readouterr().err


def test_inventory_group_merges_host_over_group_data():
    hosts = group(["n1", ("n2", {"port": 9000})], **GOOD)
    assert hosts[0] == ("n1", GOOD)
    assert hosts[1][1]["port"] == 9000 and hosts[1][1]["model"] == "glm-5.2-gguf"


def test_hub_revision_can_be_given_inline():
    plan = resolve("n", hf_data(model_source=f"hf://zai-org/GLM-5.2-GGUF@{'9' * 40}", model_entry="a.gguf"))
    assert plan.model.source == "hf://zai-org/GLM-5.2-GGUF" and plan.model.revision == "9" * 40
