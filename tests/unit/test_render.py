"""Rendering of the engine unit and its environment file."""

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve
from glmstack.render import deployed_fingerprint, env_quote, render_env_file, render_unit, systemd_quote

# The engine serving the network itself (the gateway in front of it: tests/unit/test_gateway.py).
DATA = {**CPU_MIRROR, "gateway_enabled": False}


@pytest.mark.parametrize(
    ("word", "quoted"),
    [
        ("--port", "--port"),
        ("/opt/x/bin/llama-server", "/opt/x/bin/llama-server"),
        ("50%", "50%%"),
        ("$HOME", '"$$HOME"'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ('{"cudagraph_mode":"FULL"}', '"{\\"cudagraph_mode\\":\\"FULL\\"}"'),
    ],
)
def test_systemd_quote(word, quoted):
    assert systemd_quote(word) == quoted


def test_env_quote_escapes_what_systemd_unescapes_and_refuses_a_newline():
    assert env_quote('a "b" $x `c` \\') == '"a \\"b\\" \\$x \\`c\\` \\\\"'
    with pytest.raises(ValueError, match="control character"):
        env_quote('a\nLD_PRELOAD=/tmp/x.so')


def unit_lines(data=DATA) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for line in render_unit(resolve("n", data)).splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            lines.setdefault(key, []).append(value)
    return lines


def test_unit_runs_the_rendered_command_as_the_service_user():
    plan = resolve("n", DATA)
    lines = unit_lines()
    assert lines["ExecStart"] == [" ".join(plan.serve_argv)]
    assert lines["User"] == ["glmstack"] and lines["Group"] == ["glmstack"]
    assert lines["EnvironmentFile"] == ["/etc/glmstack/llama-server.env", "/etc/glmstack/llama-server.api-key.env"]
    assert lines["Restart"] == ["on-failure"]


def test_engine_on_loopback_only_has_no_api_key():
    plan = resolve("n", {**DATA, "service_bind_host": "127.0.0.1"})
    assert plan.api_key is None
    assert unit_lines({**DATA, "service_bind_host": "127.0.0.1"})["EnvironmentFile"] == [
        "/etc/glmstack/llama-server.env"]


@pytest.mark.parametrize(("bind", "required", "expected"), [
    ("0.0.0.0", None, True), ("10.1.2.3", None, True), ("::", None, True), ("127.0.0.1", None, False),
    ("::1", None, False), ("localhost", None, False), ("127.0.0.1", True, True), ("0.0.0.0", False, False)])
def test_api_key_is_on_by_default_beyond_loopback(bind, required, expected):
    plan = resolve("n", {**DATA, "service_bind_host": bind, "service_require_api_key": required})
    assert (plan.api_key is not None) is expected


def test_api_key_never_enters_the_rendered_files(tmp_path):
    key = tmp_path / "key"
    key.write_text("a-key-that-must-stay-secret-0123456789\n")
    key.chmod(0o600)
    plan = resolve("n", {**DATA, "service_api_key_file": str(key)})
    assert plan.api_key.variable == "LLAMA_API_KEY" and plan.api_key.local_file == key
    assert "a-key-that" not in render_unit(plan) + render_env_file(plan) + " ".join(plan.serve_argv)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("DevicePolicy", "closed"),
        ("PrivateDevices", "yes"),  # a CPU host's engine needs no device nodes
        ("CapabilityBoundingSet", ""),
        ("ReadWritePaths", "/var/lib/glmstack/home/llama-server"),
    ],
)
def test_unit_is_hardened(key, value):
    assert unit_lines()[key] == [value]


def test_unit_never_isolates_shared_memory():
    # vLLM and SGLang use /dev/shm for tensor-parallel IPC; PrivateIPC would break them.
    assert "PrivateIPC" not in unit_lines()


def test_env_file_carries_proxies_and_extra_env():
    text = render_env_file(resolve("n", {**DATA, "base_https_proxy": "http://proxy.lab:3128",
                                         "extra_env": {"LLAMA_ARG_THREADS": "16"}}))
    assert 'https_proxy="http://proxy.lab:3128"' in text.splitlines()
    assert 'HTTPS_PROXY="http://proxy.lab:3128"' in text.splitlines()
    assert 'LLAMA_ARG_THREADS="16"' in text.splitlines()
    assert 'HOME="/var/lib/glmstack/home/llama-server"' in text.splitlines()


def test_unit_records_the_fingerprint_of_what_it_serves():
    plan = resolve("n", DATA)
    assert unit_lines()["Environment"] == [f"GLMSTACK_DEPLOYED={deployed_fingerprint(plan)}"]


@pytest.mark.parametrize(
    "change",
    [
        {"model_files": {"tiny.gguf": "cd" * 32}},
        {"extra_env": {"LLAMA_ARG_THREADS": "8"}},
        {"max_model_len": 4096},
        {"llamacpp_version": "b9999"},
        {"base_https_proxy": "http://proxy.lab:3128"},
    ],
    ids=["weights", "environment", "tunable", "build", "proxy"],
)
def test_fingerprint_changes_with_anything_the_engine_runs_with(change):
    assert deployed_fingerprint(resolve("n", {**DATA, **change})) != deployed_fingerprint(resolve("n", DATA))


def test_fingerprint_is_stable():
    assert deployed_fingerprint(resolve("n", DATA)) == deployed_fingerprint(resolve("n", dict(DATA)))
