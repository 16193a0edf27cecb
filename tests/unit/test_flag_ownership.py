"""Flags cannot undo settings: every option the serve command renders from a setting is one that
extra_flags may not repeat (derived from the catalog, so a new setting cannot be forgotten), and
the options a host may still add pass."""

from __future__ import annotations

import pytest

from glmstack.catalog import load_catalog
from glmstack.config import FLAG_SETTINGS, HostConfig, HostDataError, render_serve_command, resolve, setting_flag_owners

CATALOG = load_catalog()
RECIPES = [recipe for recipe in CATALOG.recipes]


def _without(argv: list[str], part: list[str]) -> list[str]:
    """argv less the first run of `part` in it (the recipe's own arguments)."""
    for at in range(len(argv) - len(part) + 1):
        if part and argv[at:at + len(part)] == part:
            return argv[:at] + argv[at + len(part):]
    return argv


@pytest.mark.parametrize("recipe", RECIPES, ids=[f"{r.model}-{r.accelerator}-{r.engine}-{r.variant}" for r in RECIPES])
def test_every_option_a_setting_renders_is_owned(recipe):
    engine = CATALOG.engines[recipe.engine]
    data = {"accelerator": recipe.accelerator, "model": recipe.model, "engine": recipe.engine,
            "recipe_variant": recipe.variant, "served_model_name": "glm", "port": 8001}
    for name, value in (("max_model_len", 4096), ("max_num_seqs", 4), ("gpu_memory_utilization", 0.8),
                        ("num_speculative_tokens", 1)):
        if name in engine.flags and (name != "num_speculative_tokens" or CATALOG.models[recipe.model].mtp):
            data[name] = value
    config = HostConfig.model_validate(data)
    owners = setting_flag_owners(engine)
    nodes = recipe.parallel.nodes
    for rank in range(nodes):
        argv = render_serve_command(config, CATALOG, recipe, "/opt/bin/engine", "/srv/model", rank=rank, nodes=nodes,
                                    head="10.0.0.1", workers=[f"10.0.0.{n + 1}" for n in range(1, nodes)],
                                    max_model_len="auto")
        from_settings = _without(argv, list(recipe.args))
        if engine.additional_config and engine.additional_config[0] in from_settings:
            at = from_settings.index(engine.additional_config[0])
            del from_settings[at:at + 2]  # merged with the host's own, never undone
        options = [word for word in from_settings if word.startswith("-") and not word.lstrip("-")[:1].isdigit()]
        assert options, argv
        unowned = [word for word in options
                   if (word.split(".", 1)[0] if word.startswith("--") else word) not in owners
                   and engine.flag_aliases.get(word) not in owners]
        assert not unowned, f"rendered from a setting, yet extra_flags may repeat them: {unowned}"


def test_owners_are_host_settings():
    fields = set(HostConfig.model_fields)
    for name, engine in CATALOG.engines.items():
        assert set(engine.owned_flags) <= fields, name
        assert {FLAG_SETTINGS.get(flag, flag) for flag in engine.flags} <= fields, name
        assert set(setting_flag_owners(engine).values()) <= fields, name
        # An alias stands for an option the engine has; aliases of aliases would not resolve.
        assert not set(engine.flag_aliases.values()) & set(engine.flag_aliases), name


CPU = {"accelerator": "cpu", "model": "glm-5.2-gguf", "engine": "llama.cpp", "model_source": "/srv/m",
       "model_entry": "a.gguf"}
H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}
ASCEND = {"accelerator": "ascend-a3", "model": "glm-5.2-w8a8", "engine": "vllm-ascend", "model_revision": "0" * 40}


@pytest.mark.parametrize("data, flags", [
    (CPU, ["--threads", "8", "--no-mmap"]),
    (H200, ["--max-num-batched-tokens", "8192", "--enable-prompt-tokens-details", "--disable-log-requests"]),
    (H200, ["--tokenizer-mode", "auto", "--bucket-time-to-first-token", "0.1"]),
])
def test_options_no_setting_renders_pass(data, flags):
    assert resolve("n", {**data, "extra_flags": flags}).serve_argv[-len(flags):] == tuple(flags)


def test_the_hosts_additional_config_is_merged_not_refused():
    argv = resolve("n", {**ASCEND, "extra_flags": ["--additional-config", '{"enable_flashcomm1": true}']}).serve_argv
    assert argv.count("--additional-config") == 1


@pytest.mark.parametrize("data, flags, owner", [
    ({**CPU, "service_bind_host": "127.0.0.1"}, ["--host", "0.0.0.0"], "service_bind_host"),
    (H200, ["--host=0.0.0.0"], "service_bind_host"),
    (H200, ["--ho", "0.0.0.0"], "service_bind_host"),
    (H200, ["-pp", "2"], "recipe_variant"),
    (H200, ["--gpu_memory_utilization", "1.0"], "gpu_memory_utilization"),
    (H200, ["--served-model", "x"], "served_model_name"),
    (H200, ["--no-enable-auto-tool-choice"], "recipe_variant"),
    (H200, ["-n", "2"], "deployment"),
    (H200, ["--distributed-executor-backend", "ray"], "deployment"),
    (CPU, ["-np", "100000"], "max_num_seqs"),
    (CPU, ["-m", "/srv/other.gguf"], "model_dir"),
    (CPU, ["-hf", "someone/other"], "model_dir"),
    (CPU, ["--api-key-file", "/etc/k"], "service_api_key_file"),
    (ASCEND, ["--data-parallel-size", "4"], "deployment"),
    (ASCEND, ["-tp", "4"], "recipe_variant"),
])
def test_an_option_a_setting_renders_is_refused_naming_the_setting(data, flags, owner):
    with pytest.raises(HostDataError) as error:
        resolve("n", {**data, "extra_flags": flags})
    text = str(error.value)
    assert text.startswith("host n: field extra_flags: item 1 (") and "\n" not in text, text
    assert f"which {owner} renders" in text, text
