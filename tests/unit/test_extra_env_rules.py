"""extra_env adds to the engine's environment: secret-named variables are judged by the words of
their names (and a plain on/off switch is no secret), secret values are recognised by shape, and
nothing glmstack sets itself, nor a variable that loads other code, may be replaced."""

from __future__ import annotations

import pytest

from glmstack.config import HostDataError, resolve
from glmstack.render import FINGERPRINT_VARIABLE, render_env_file, service_environment
from glmstack.secrets import REDACTED, env_name_says_secret, redact, redact_data, secret_in

H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
CPU = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_source": "/srv/m",
       "model_entry": "a.gguf"}
BEARER = "Ab12Cd34Ef56Gh78Ij90Kl12Mn34"
BASIC = "bGFiOnB3LUxrMjl4UXo5OTk="
OAUTH = "ya29." + "a0AfH6SMBx3kPqLmNoPqRsTuVwXyZ0123456789abcdef"


@pytest.mark.parametrize("env", [{"TOKENIZERS_PARALLELISM": "false"}, {"HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"},
                                 {"VLLM_USE_AUTH": "Off"}, {"KEY_PATH_HINT": "x"}])
def test_no_secret_is_accepted_and_rendered(env):
    text = render_env_file(resolve("n", {**H200, "extra_env": env}))
    ((name, value),) = env.items()
    assert f'{name}="{value}"' in text.splitlines()


@pytest.mark.parametrize("name, secret", [
    ("HF_TOKEN", True), ("OPENAI_KEY", True), ("API_KEY", True), ("DB_PASSWD", True), ("AWS_CREDENTIALS", True),
    ("PROXY_AUTH", True), ("CLIENT_SECRET_FILE", True), ("hf_token", True),
    ("TOKENIZERS_PARALLELISM", False), ("KEY_PATH", False), ("AUTHOR", False), ("MONKEY", False),
])
def test_secret_names_are_judged_by_their_words(name, secret):
    assert env_name_says_secret(name) is secret


def test_a_secret_named_variable_holding_a_value_is_refused():
    with pytest.raises(HostDataError) as error:
        resolve("n", {**H200, "extra_env": {"OPENAI_KEY": "abcd1234efgh5678ijkl"}})
    text = str(error.value)
    assert text.startswith("host n: field extra_env: OPENAI_KEY looks like a secret; secrets go in a 0600 file")
    assert "\n" not in text and "abcd1234" not in text


@pytest.mark.parametrize("text, secret", [
    (f"Authorization: Bearer {BEARER}", BEARER), (f"Authorization=Basic {BASIC}", BASIC), (f"x {OAUTH} y", OAUTH),
])
def test_authorization_values_and_oauth_tokens_are_secrets(text, secret):
    assert secret_in(text) is not None
    assert secret not in redact(text) and REDACTED in redact(text)
    assert secret not in str(redact_data({"EXTRA_HEADERS": text}))


@pytest.mark.parametrize("text", ["basic configuration", "Bearer token", "the basic internationalisation"])
def test_prose_about_authorization_is_no_secret(text):
    assert secret_in(text) is None and redact(text) == text


@pytest.mark.parametrize("extra", [
    {"extra_env": {"EXTRA_HEADERS": f"Authorization: Bearer {BEARER}"}},
    {"extra_env": {"FOO": OAUTH}},
    {"extra_flags": ["--otlp-traces-headers", f"Authorization=Basic {BASIC}"]},
    {"served_model_name": OAUTH},
])
def test_authorization_values_are_refused_in_free_form_fields(extra):
    with pytest.raises(HostDataError) as error:
        resolve("n", {**H200, **extra})
    assert not any(secret in str(error.value) for secret in (BEARER, BASIC, OAUTH)), str(error.value)


@pytest.mark.parametrize("base", [H200, CPU], ids=["vllm-h200", "llamacpp-cpu"])
def test_every_variable_glmstack_sets_is_refused_in_extra_env(base):
    rendered = set(service_environment(resolve("n", base))) | {FINGERPRINT_VARIABLE, "http_proxy", "NO_PROXY"}
    assert "HOME" in rendered, rendered
    for name in sorted(rendered):
        with pytest.raises(HostDataError, match=f"field extra_env: set by glmstack: {name} \\(from "):
            resolve("n", {**base, "extra_env": {name: "x"}})


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_AUDIT", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "BASH_ENV",
                                  "ENV", "PERL5OPT", "NODE_OPTIONS"])
def test_variables_that_load_other_code_are_refused(name):
    with pytest.raises(HostDataError, match=f"field extra_env: {name} would make the engine load or run other code"):
        resolve("n", {**H200, "extra_env": {name: "/tmp/x"}})


def test_a_message_about_an_option_is_not_redacted_as_its_value():
    with pytest.raises(HostDataError) as error:
        resolve("n", {**H200, "extra_flags": ["--api-k", "x"]})
    assert "takes for --api-key (an abbreviation)" in str(error.value), str(error.value)
    assert redact("--api-key (an abbreviation)") == "--api-key (an abbreviation)"
    assert redact("--api-key s3cr3t") == f"--api-key {REDACTED}"


def test_every_variable_of_a_ray_deployments_units_is_refused_in_extra_env():
    from glmstack.config import InventoryError, resolve_inventory
    from roles.service.units import node_unit_specs

    data = {"accelerator": "h100", "model": "glm-5.2-bf16", "engine": "vllm", "model_revision": "1" * 40,
            "deployment": "bf16", "network_interface": "ib0"}
    nodes = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    rendered = {name for plan in resolve_inventory([(node, data) for node in nodes])
                for unit in node_unit_specs(plan) for name in service_environment(unit)}
    assert {"RAY_ADDRESS", "VLLM_HOST_IP", "NCCL_SOCKET_IFNAME"} <= rendered, rendered
    for name in sorted(rendered):
        with pytest.raises(InventoryError, match=f"field extra_env: set by glmstack: {name} \\(from "):
            resolve_inventory([(node, {**data, "extra_env": {name: "x"}}) for node in nodes])
