"""Rendering of the engine unit and its environment file."""

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve
from glmstack.render import deployed_fingerprint, env_quote, render_env_file, render_unit, systemd_quote

DATA = CPU_MIRROR


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


def test_env_quote_keeps_values_on_one_line():
    assert env_quote('a "b"\nc') == '"a \\"b\\"\\nc"'


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
    assert lines["EnvironmentFile"] == ["/etc/glmstack/llama-server.env"]
    assert lines["Restart"] == ["on-failure"]


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
