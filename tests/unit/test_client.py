"""`glmstack client`: each rendered form is what it claims to be (the Python compiles, curl's argv
parses, env lines are valid), and the curl and OpenAI SDK forms run against a local stand-in server
that records what they send: the key in the Authorization header only, the model, and the chat
template's kwargs of each way of answering (seed 000)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from glmstack.catalog import load_catalog
from glmstack.cli import main
from glmstack.client import FORMS, Endpoint, render_block, render_forms, select_endpoints
from glmstack.paths import REPO_ROOT
from glmstack.planning import plan_inventory

H100 = str(REPO_ROOT / "inventory" / "h100.py")
KEY = "k3y-0123456789abcdef"


def h100_endpoint() -> Endpoint:
    """The H100 deployment's endpoint as served without a gateway (gateway_enabled: false)."""
    return replace(select_endpoints(plan_inventory(H100), H100)[0], base_url="http://10.0.0.11:8000",
                   ca_host_file=None)


def commands(text: str) -> list[list[str]]:
    """The shell commands of a form (comments dropped, continuations joined), each as its argv
    (a pipeline as one list with "|")."""
    lines = [line for line in text.replace("\\\n", " ").splitlines() if line and not line.startswith("#")]
    return [shlex.split(line) for line in lines]


def claude_code_env(form: str) -> dict[str, str]:
    """The environment Claude Code starts with: the form run by bash, `claude` standing in."""
    script = "claude() { env -0; }\n" + form
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "NODE_EXTRA_CA_CERTS"))}
    env["ANTHROPIC_API_KEY"] = "x"  # one set before: the form unsets it
    run = subprocess.run(["bash", "-e"], input=script, capture_output=True, text=True, env=env, timeout=30)
    assert run.returncode == 0, run.stderr
    return dict(item.split("=", 1) for item in run.stdout.split("\0") if item)


def test_one_endpoint_per_deployment_at_its_gateway_with_its_model_engine_key_and_ca():
    [endpoint] = select_endpoints(plan_inventory(H100), H100)
    assert (endpoint.name, endpoint.host, endpoint.model) == ("glm52-h100", "h100-1.lab.example", "glm-5.2-fp8")
    assert endpoint.base_url == "https://10.0.0.11:8000"
    assert endpoint.key_file == "/etc/glmstack/vllm.api-key"
    assert endpoint.ca_host_file == "/etc/glmstack/gateway/ca.crt"
    assert endpoint.messages is not None and endpoint.messages.path == "/v1/messages"
    assert endpoint.modes == {"think-max": {}, "think-high": {"reasoning_effort": "high"},
                              "plain": {"enable_thinking": False}}


def test_every_form_is_well_formed_and_the_key_is_in_the_export_line_only():
    forms = render_forms(h100_endpoint(), inventory=H100, key=KEY, ca_file=None)
    assert set(forms) == set(FORMS)
    compile(forms["openai"], "openai-form.py", "exec")
    for name in ("curl", "claude-code", "messages"):
        argvs = commands(forms[name])
        assert argvs, name
        for argv in argvs:
            if argv[0] == "printf":  # the key reaches curl on its stdin
                assert argv[argv.index("|") + 1:][:3] == ["curl", "--config", "-"]
                assert KEY not in " ".join(argv)
            else:
                assert argv[0] in ("export", "unset", "claude"), argv
                assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*(=.+)?", word) for word in argv[1:]), argv
        assert [line for line in forms[name].splitlines() if KEY in line] == [f"export GLMSTACK_API_KEY={KEY}"]
    curl = next(argv for argv in commands(forms["curl"]) if argv[0] == "printf")
    body = json.loads(curl[curl.index("-d") + 1])
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["model"] == "glm-5.2-fp8"
    assert "http://10.0.0.11:8000/v1/chat/completions" in curl
    claude = claude_code_env(forms["claude-code"])
    assert claude["ANTHROPIC_BASE_URL"] == "http://10.0.0.11:8000"  # Claude Code adds /v1/messages itself
    assert claude["ANTHROPIC_AUTH_TOKEN"] == KEY and "ANTHROPIC_API_KEY" not in claude
    for name in ("ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                 "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"):
        assert claude[name] == "glm-5.2-fp8"
    assert "NODE_EXTRA_CA_CERTS" not in claude


def test_without_show_key_a_placeholder_and_how_to_get_it():
    forms = render_forms(h100_endpoint(), inventory=H100, key=None, ca_file=None)
    assert "export GLMSTACK_API_KEY='<the API key>'" in forms["curl"]
    assert f"glmstack client {H100} h100-1.lab.example --show-key" in forms["curl"]


def test_a_tls_endpoint_trusts_its_ca_in_every_form(tmp_path):
    endpoint = replace(h100_endpoint(), base_url="https://10.0.0.11:8000", ca_host_file="/etc/glmstack/gateway/ca.crt")
    ca = tmp_path / "glm52-h100-ca.crt"
    forms = render_forms(endpoint, inventory=H100, key=KEY, ca_file=ca)
    compile(forms["openai"], "openai-form.py", "exec")
    assert f"ssl.create_default_context(cafile={json.dumps(str(ca))})" in forms["openai"]
    assert f"--cacert {ca}" in forms["curl"] and f"--cacert {ca}" in forms["messages"]
    assert claude_code_env(forms["claude-code"])["NODE_EXTRA_CA_CERTS"] == str(ca)


def test_an_engine_release_without_a_messages_endpoint_says_so():
    endpoint = replace(h100_endpoint(), messages=None)
    forms = render_forms(endpoint, inventory=H100, key=KEY, ca_file=None)
    for name in ("claude-code", "messages"):
        assert "vllm 0.23.0 has no Anthropic-compatible messages endpoint" in forms[name]
        assert not commands(forms[name])


def test_each_engine_release_records_its_messages_endpoint_and_plain_answer():
    catalog = load_catalog()
    plain = {name: engine.default.messages.plain_answer for name, engine in catalog.engines.items()}
    # SGLang 0.5.21's AnthropicMessagesRequest takes no chat_template_kwargs: thinking.type only.
    assert plain["sglang"] == {"thinking": {"type": "disabled"}}
    assert plain["vllm"] == plain["llama.cpp"] == {"chat_template_kwargs": {"enable_thinking": False}}


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        kwargs = body.get("chat_template_kwargs") or {}
        message = {"role": "assistant", "content": "plain" if kwargs.get("enable_thinking") is False else ""}
        reply = json.dumps({"id": "1", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.requests
    server.shutdown()


def test_the_curl_and_openai_forms_send_the_key_the_model_and_each_modes_kwargs(stand_in, tmp_path):
    url, requests = stand_in
    endpoint = replace(h100_endpoint(), base_url=url)
    forms = render_forms(endpoint, inventory=H100, key=KEY, ca_file=None)
    curl = subprocess.run(["bash", "-e"], input=forms["curl"], capture_output=True, text=True, timeout=60)
    assert curl.returncode == 0, curl.stderr
    assert json.loads(curl.stdout)["choices"][0]["message"]["content"] == "plain"
    script = tmp_path / "openai_form.py"
    script.write_text(forms["openai"])
    env = {**os.environ, "GLMSTACK_API_KEY": KEY}
    python = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert python.returncode == 0, python.stderr
    assert [line.split()[0] for line in python.stdout.splitlines()] == ["think-max", "think-high", "plain"]
    assert [r["auth"] for r in requests] == [f"Bearer {KEY}"] * 4
    assert [r["body"].get("chat_template_kwargs") for r in requests] == [
        {"enable_thinking": False}, None, {"reasoning_effort": "high"}, {"enable_thinking": False}]
    assert {r["path"] for r in requests} == {"/v1/chat/completions"}


BAD_INPUT = REPO_ROOT / "tests" / "badinput"
BAD_CASES = sorted(BAD_INPUT.glob("235[0-9]_client_*.args"))


def test_the_client_bad_input_cases_are_there():
    assert len(BAD_CASES) >= 5


@pytest.mark.parametrize("case", BAD_CASES, ids=[case.stem for case in BAD_CASES])
def test_bad_client_input_is_one_line_without_a_traceback(case, capsys):
    """tests/badinput/235N_client_*.args: `# expect: <the error line's start>`, `# args: <argv>`."""
    expect, args = (line.split(": ", 1)[1] for line in case.read_text().splitlines()[:2])
    argv = shlex.split(args.format(inventory=REPO_ROOT / "inventory", badinput=BAD_INPUT))
    try:
        code = main(["client", *argv])
    except SystemExit as exit_info:  # argparse
        code = exit_info.code
    assert code in (1, 2)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith(expect) and "\n" not in err and "Traceback" not in err, err
    assert not captured.out


def test_offline_prints_every_form_for_the_deployment(capsys, tmp_path):
    assert main(["client", H100, "--offline", "--ca-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ==== glm52-h100: https://10.0.0.11:8000")
    assert f"--cacert {tmp_path / 'glm52-h100-ca.crt'}" in out and not list(tmp_path.iterdir())
    for heading in ("OpenAI SDK (Python)", "curl", "Claude Code", "Anthropic messages (curl)"):
        assert f"# ---- {heading}\n" in out
    assert KEY not in out


def test_an_ansible_inventory_gives_one_block_per_host_and_its_ssh_settings_to_pyinfra(tmp_path, monkeypatch, capsys):
    (tmp_path / "hosts.ini").write_text(
        "[cpu]\ncpu-1 ansible_host=10.9.0.11 ansible_user=root ansible_port=2222 address=10.9.0.11\n"
        "cpu-2 ansible_host=10.9.0.12 port=8081 address=10.9.0.12\n"
        "[cpu:vars]\naccelerator=cpu\nengine=llama.cpp\nmodel=glm-5.2-gguf\nmodel_source=/srv/models\n"
        "model_entry=a.gguf\nserved_model_name=glm\n")
    inventory = str(tmp_path / "hosts.ini")
    assert main(["client", inventory, "--offline", "--ca-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "# ==== cpu-1: https://10.9.0.11:8080\n" in out and "# ==== cpu-2: https://10.9.0.12:8081\n" in out
    asked = {}

    def reading(hosts, wanted):
        asked.update(hosts=dict(hosts), wanted=wanted)
        return {}

    monkeypatch.setattr("glmstack.client.read_host_files", reading)
    assert main(["client", inventory, "cpu-1", "--show-key", "--ca-dir", str(tmp_path)]) == 0
    assert asked["wanted"] == {"cpu-1": ("/etc/glmstack/llama-server.api-key", "/etc/glmstack/gateway/ca.crt")}
    data = asked["hosts"]["cpu-1"]
    assert (data["ssh_hostname"], data["ssh_user"], data["ssh_port"]) == ("10.9.0.11", "root", 2222)


def test_a_replica_group_block_names_its_replicas_and_its_ca(tmp_path):
    endpoint = replace(h100_endpoint(), base_url="https://10.0.0.11:8000", ca_host_file="/etc/glmstack/tls/ca.crt",
                       members=("h100-1.lab.example", "h100-3.lab.example"))
    ca = tmp_path / "ca.crt"
    forms = render_forms(endpoint, inventory=H100, key=None, ca_file=ca)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    block = render_block(endpoint, forms, ca, ca_pem=pem)
    assert block.splitlines()[:3] == [
        "# ==== glm52-h100: https://10.0.0.11:8000",
        "# engine vllm 0.23.0 · model glm-5.2-fp8 · replicas h100-1.lab.example, h100-3.lab.example",
        f"# CA to trust: {ca}"]
    assert "#   a copy of h100-1.lab.example:/etc/glmstack/tls/ca.crt (printed at the end of this block" in block
    assert block.endswith(pem)


def test_a_replica_group_is_one_block_at_its_first_gateway_naming_the_other(tmp_path, capsys):
    inventory = tmp_path / "group.py"
    inventory.write_text(
        "from glmstack.inventory import group\n"
        "replicas = group([('r-1', {'address': '10.9.0.21'}), ('r-2', {'address': '10.9.0.22'})],\n"
        "    accelerator='cpu', model='glm-5.2-gguf', engine='llama.cpp', model_source='/srv/models',\n"
        "    model_entry='a.gguf', served_model_name='glm', gateway_group='front')\n")
    [endpoint] = select_endpoints(plan_inventory(str(inventory)), str(inventory))
    assert (endpoint.name, endpoint.host, endpoint.members) == ("front", "r-1", ("r-1", "r-2"))
    assert endpoint.base_url == "https://10.9.0.21:8080"
    assert endpoint.notes == (f"also served by r-2 at https://10.9.0.22:8080 (its settings: glmstack client "
                              f"{inventory} r-2)",)
    [second] = select_endpoints(plan_inventory(str(inventory)), str(inventory), "r-2")
    assert (second.name, second.host, second.base_url) == ("front", "r-2", "https://10.9.0.22:8080")
    assert main(["client", str(inventory), "--offline", "--ca-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("# ==== ") == 1 and "· replicas r-1, r-2\n" in out


def test_without_the_gateway_the_engine_itself_with_its_own_key_and_no_ca(tmp_path):
    inventory = tmp_path / "plain.py"
    inventory.write_text(
        "from glmstack.inventory import group\n"
        "plain = group([('p-1', {'address': '10.9.0.31'})], accelerator='cpu', model='glm-5.2-gguf',\n"
        "    engine='llama.cpp', model_source='/srv/models', model_entry='a.gguf', served_model_name='glm',\n"
        "    gateway_enabled=False)\n")
    [endpoint] = select_endpoints(plan_inventory(str(inventory)), str(inventory))
    assert (endpoint.name, endpoint.base_url, endpoint.ca_host_file) == ("p-1", "http://10.9.0.31:8080", None)
    assert endpoint.key_file == "/etc/glmstack/llama-server.api-key"
    forms = render_forms(endpoint, inventory=str(inventory), key=KEY, ca_file=None)
    assert "--cacert" not in forms["curl"] and "DefaultHttpxClient" not in forms["openai"]
