"""The engine is installed, running as intended, and serving the model it was given."""

from __future__ import annotations

import json
import shlex

import pytest

from glmstack.catalog import load_catalog
from roles.service.operations import curl_as_client


@pytest.fixture
def serving(plan):
    """The plan of a host serving the HTTP API (an RPC or Ray worker lends its devices to its head instead)."""
    if not plan.serves_api:
        pytest.skip(f"{plan.host} is a worker of {plan.head_address}: no HTTP API")
    return plan


def api(host, plan, path: str, body: dict | None = None) -> dict:
    url = f"http://127.0.0.1:{plan.port}{path}"
    if body is None:
        return json.loads(host.check_output(curl_as_client(plan, url, "-fsS --max-time 30")))
    payload = shlex.quote(json.dumps(body))
    return json.loads(host.check_output(curl_as_client(
        plan, url, f"-fsS --max-time 120 -H 'Content-Type: application/json' -d {payload}")))


def test_unit_is_running_and_enabled(host, unit):
    service = host.service(f"{unit.name}.service")
    assert service.is_running
    assert service.is_enabled


def test_engine_runs_as_the_service_user(host, plan, unit):
    main_pid = host.check_output(f"systemctl show -p MainPID --value {unit.name}.service")
    assert main_pid not in ("", "0")
    assert host.check_output(f"ps -o user= -p {main_pid}") == plan.config.base_service_user


def test_port_is_listening(host, plan, unit):
    if unit.probe.kind == "active":
        pytest.skip(f"{plan.host} is a headless rank of {plan.head_address}: it listens on no port of its own")
    assert host.socket(f"tcp://{unit.probe.address}:{unit.probe.port}").is_listening


def test_health_endpoint_reports_ready(host, serving):
    plan = serving
    status = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' {shlex.quote(plan.health_url)}")
    assert status == "200"


def test_models_endpoint_lists_the_served_model(host, serving):
    plan = serving
    served = [model["id"] for model in api(host, plan, "/v1/models")["data"]]
    assert plan.served_model_name in served


def chat(host, plan, **request) -> dict:
    return api(host, plan, "/v1/chat/completions", {
        "model": plan.served_model_name,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 8,
        "temperature": 0,
        **request,
    })


def plain_answer(plan) -> dict:
    """What asks a reasoning model (GLM-5.2 thinks first) for a plain answer, where the engine's
    server hands chat_template_kwargs to the model's chat template (GLM's reads enable_thinking)."""
    if load_catalog().engines[plan.engine_name].chat_template_kwargs:
        return {"chat_template_kwargs": {"enable_thinking": False}}
    return {}


def reply_text(reply: dict) -> str:
    """The reply's text: its answer or, from a reasoning model, what it thought. Engines with a
    reasoning parser keep content null until </think> and put the thinking in reasoning_content
    (SGLang, llama.cpp) or reasoning (vLLM's newer name)."""
    message = reply["choices"][0]["message"]
    parts = (message.get(field) for field in ("content", "reasoning_content", "reasoning"))
    return "".join(part for part in parts if isinstance(part, str)).strip()


def test_chat_completion_returns_text(host, serving):
    plan = serving
    reply = chat(host, plan, **plain_answer(plan))
    assert reply["usage"]["completion_tokens"] > 0
    assert reply_text(reply), reply


def test_chat_completion_returns_text_while_the_model_thinks(host, serving):
    """The model's own default: GLM-5.2 thinks first, and 8 tokens end it before </think>."""
    plan = serving
    reply = chat(host, plan)
    assert reply["usage"]["completion_tokens"] > 0
    assert reply_text(reply), reply


def test_environment_and_key_files_are_root_only(host, plan, unit):
    files = [f"{plan.config.base_config_dir}/{unit.name}.env"]
    if unit.api_key:
        files += [unit.api_key.key_file, unit.api_key.env_file]
    for path in files:
        secret = host.file(path)
        assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600), path


def test_clients_without_the_api_key_are_refused(host, serving):
    plan = serving
    if plan.api_key is None:
        pytest.skip(f"{plan.host} serves on loopback only, without an API key")
    url = shlex.quote(f"http://127.0.0.1:{plan.port}/v1/models")
    assert host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 30 {url}") == "401"
    wrong = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 30 -H 'Authorization: Bearer not-the-key' {url}"
    assert host.check_output(wrong) == "401"


def test_weights_are_verified_and_not_writable_by_the_engine(host, serving):
    plan = serving
    marker = host.file(f"{plan.config.base_state_dir}/models/{plan.config.model}.ready")
    assert marker.content_string.strip() == plan.model.fingerprint
    entry = host.file(plan.model.entry_path)
    # Owned by the user that fetched them (root before the weights unit had a user of its own), read
    # by the engine through its group: the engine cannot change them.
    if plan.model.kind != "path":
        assert entry.user in ("glmstack-weights", "root"), entry.user
    assert not entry.mode & 0o022
    user = plan.config.base_service_user
    path = shlex.quote(plan.model.entry_path)
    assert host.run(f"runuser -u {user} -- test -r {path}").rc == 0
    assert host.run(f"runuser -u {user} -- test -w {path}").rc != 0
    for name, digest in plan.model.files:
        assert host.file(f"{plan.model.directory}/{name}").sha256sum == digest
