"""The engine's serve command line, filled from the catalog's argument templates, the recipe and host
data; and the rules on what host data may add to it (tunables the engine takes, options a setting
already renders, flags and variables of another vendor's stack)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from glmstack.fill import fill
from glmstack.secrets import (
    SECRET_FILES_IN_WORDS,
    SECRET_FLAGS,
    carrier_of,
    flag_name,
    flag_says_secret,
    high_entropy,
    secret_in,
)
from glmstack.values import host_port, url_host

if TYPE_CHECKING:
    from glmstack.catalog import Catalog, Engine, EngineLimitation, Recipe
    from glmstack.hostdata import HostConfig


# Settings that only one vendor's stack understands; elsewhere they are a copy from the wrong recipe.
VENDOR_ONLY_MARKERS = {
    "amd": ("aiter", "VLLM_ROCM_"),
    "huawei": ("HCCL_", "VLLM_ASCEND_", "--quantization ascend", "PYTORCH_NPU_"),
}


HOST_TUNABLES = ("max_model_len", "max_num_seqs", "gpu_memory_utilization", "num_speculative_tokens")


def effective_tunables(config: HostConfig, recipe: Recipe) -> dict[str, Any]:
    """The recipe's tunables with the host's overrides on top; None and 0 draft tokens drop out."""
    tunables = dict(recipe.tunables)
    for name in HOST_TUNABLES:
        if getattr(config, name) is not None:
            tunables[name] = getattr(config, name)
    if tunables.get("num_speculative_tokens") == 0:
        del tunables["num_speculative_tokens"]
    return tunables


def _host_additional_config(config: HostConfig, catalog: Catalog) -> tuple[dict[str, Any], list[str]]:
    """A host's own `--additional-config JSON` in extra_flags (merged into the recipe's object, since
    the engine keeps only the last one given), and its other extra flags."""
    option = catalog.engines[config.engine].additional_config[:1]
    flags, merged = list(config.extra_flags), {}
    while option and option[0] in flags:
        at = flags.index(option[0])
        try:
            value = json.loads(flags[at + 1]) if at + 1 < len(flags) else None
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise ValueError(f"{option[0]} takes one JSON object")
        merged.update(value)
        del flags[at:at + 2]
    return merged, flags


def render_serve_command(config: HostConfig, catalog: Catalog, recipe: Recipe, binary: str, model_path: str,
                         rank: int = 0, nodes: int = 1, head: str | None = None,
                         workers: list[str] | tuple[str, ...] = (), max_model_len: str | None = None) -> list[str]:
    """The engine's command line: catalog argument templates filled from the recipe and host data;
    max_model_len: the plan's cap, when neither sets one and the native context does not fit."""
    engine = catalog.engines[config.engine]
    layout = recipe.parallel
    values: dict[str, Any] = {
        "model_path": model_path,
        "served_model_name": config.served_model_name or config.model,
        "host": config.service_bind_host,
        "port": config.port or engine.default_port,
    }
    if layout.tensor_parallel_size:
        values["tensor_parallel_size"] = layout.tensor_parallel_size
    if layout.pipeline_parallel_size > 1:
        values["pipeline_parallel_size"] = layout.pipeline_parallel_size
    values.update(effective_tunables(config, recipe))
    if max_model_len is not None and "max_model_len" not in values:
        values["max_model_len"] = max_model_len
    argv = [binary, *engine.subcommand]
    for name, value in values.items():
        argv += fill(engine.flags[name], {"value": value})
    argv += recipe.args
    host_config, extra_flags = _host_additional_config(config, catalog)
    if recipe.additional_config or host_config:
        merged = json.dumps({**recipe.additional_config, **host_config}, separators=(",", ":"))
        argv += fill(engine.additional_config, {"value": merged})
    if nodes > 1 and recipe.cluster == "ray":
        # The engine on the head drives the whole Ray cluster; the other nodes run Ray alone.
        argv += engine.ray.engine_args
    elif nodes > 1:
        dp_local = layout.data_parallel_size // nodes
        placeholders = {"nodes": nodes, "rank": rank, "head": head, "head_host": url_host(head or ""),
                        "dp": layout.data_parallel_size,
                        "dp_local": dp_local, "dp_start": rank * dp_local}
        if engine.rpc_worker:
            placeholders["rpc_workers"] = ",".join(host_port(worker, engine.rpc_worker.port) for worker in workers)
        argv += fill(engine.multinode_head if rank == 0 else engine.multinode_worker, placeholders)
    return argv + extra_flags


def engine_limitations(config: HostConfig, catalog: Catalog, recipe: Recipe,
                       argv: list[str] | tuple[str, ...]) -> tuple[EngineLimitation, ...]:
    """The engine release's known limitations this command runs into; none for a host's own build."""
    if config.engine_requirement is not None:
        return ()
    tunables = effective_tunables(config, recipe)
    family = catalog.models[config.model].family
    return tuple(limit for limit in catalog.release_for(recipe).limitations
                 if (not limit.families or family in limit.families)
                 and all(arg in argv for arg in limit.when_args)
                 and all(tunables.get(name) for name in limit.when_tunables))


def compatibility_problems(config: HostConfig, catalog: Catalog, recipe: Recipe) -> list[tuple[str, str]]:
    """What the seeds and reference facts say cannot work, beyond the schema."""
    problems = []
    accelerator = catalog.accelerators[config.accelerator]
    engine = catalog.engines[config.engine]
    model = catalog.models[config.model]
    for name in HOST_TUNABLES:
        if getattr(config, name) is not None and name not in engine.flags:
            allowed = [t for t in HOST_TUNABLES if t in engine.flags]
            problems.append((name, f"engine {config.engine} takes no {name}; it takes: {', '.join(allowed)}"))
    tunables = effective_tunables(config, recipe)
    if tunables.get("num_speculative_tokens") and not model.mtp:
        problems.append(("num_speculative_tokens", f"{config.model} cannot use MTP: {model.mtp_note}"))
    kv_dtype = tunables.get("kv_cache_dtype")
    if kv_dtype and accelerator.kv_cache_dtypes_accepted and kv_dtype not in accelerator.kv_cache_dtypes_accepted:
        problems.append(("kv_cache_dtype", f"{kv_dtype!r} is not an FP8 KV-cache name on {config.accelerator}; "
                                           f"allowed: {', '.join(accelerator.kv_cache_dtypes_accepted)}"))
    for name in sorted(config.extra_env.keys() & engine.config_env_fallbacks.keys()):
        option, key = engine.additional_config[0], engine.config_env_fallbacks[name]
        problems.append(("extra_env", f"{name} is a fallback for {option} key {key}, which {config.engine} is "
                                      f"dropping; give extra_flags [{option}, '{{\"{key}\": ...}}'] instead "
                                      "(merged into the recipe's object)"))
    try:
        _host_additional_config(config, catalog)
    except ValueError as error:
        problems.append(("extra_flags", f"{error}, e.g. '{{\"enable_flashcomm1\": true}}'"))
    for vendor, markers in VENDOR_ONLY_MARKERS.items():
        if accelerator.vendor == vendor:
            continue
        for where, values in (("extra_flags", config.extra_flags), ("extra_env", list(config.extra_env))):
            text = " ".join(values)
            for marker in markers:
                if marker.lower() in text.lower():
                    problems.append((where, f"{marker!r} only applies to {vendor} accelerators, not "
                                            f"{config.accelerator}"))
    return problems


def setting_flag_owners(engine: Engine) -> dict[str, str]:
    """Option -> the host setting that renders it, from the engine's data: the catalog's flags per
    setting, the multi-node and Ray arguments (the deployment's), and owned_flags."""
    owners: dict[str, str] = {}

    def own(words: list[str], setting: str) -> None:
        for word in words:
            if word.startswith("-"):
                owners.setdefault(_base_option(word, engine), setting)

    for name, words in engine.flags.items():
        own(words, FLAG_SETTINGS.get(name, name))
    own(engine.multinode_head + engine.multinode_worker, "deployment")
    if engine.ray:
        own(engine.ray.engine_args, "deployment")
    for setting, words in engine.owned_flags.items():
        own(words, setting)
    return owners


def _flag_owners(config: HostConfig, catalog: Catalog, recipe: Recipe) -> dict[str, str]:
    """Option -> the host setting that renders it: what extra_flags may not repeat. The engine's
    (setting_flag_owners), and every option the serve command renders for this host beyond them
    (the recipe's own arguments: recipe_variant's); argparse's --no-X undoes --X."""
    engine = catalog.engines[config.engine]
    owners = setting_flag_owners(engine)
    rendered = render_serve_command(config.model_copy(update={"extra_flags": []}), catalog, recipe, "engine", "model")
    for word in rendered:
        if word.startswith("-") and word not in engine.additional_config:
            owners.setdefault(_base_option(word, engine), "recipe_variant")
    for option in list(owners):  # BooleanOptionalAction's --no-X
        if option.startswith("--") and not option.startswith("--no-"):
            owners.setdefault(f"--no-{option[2:]}", owners[option])
    return owners


# The catalog's flag names (glmstack.catalog SERVE_ARGUMENTS, TUNABLES, PARALLEL_SETTINGS) that are
# not host settings of the same name: the host setting that decides them.
FLAG_SETTINGS = {"model_path": "model_dir", "host": "service_bind_host", "tensor_parallel_size": "recipe_variant",
                 "pipeline_parallel_size": "recipe_variant", "kv_cache_dtype": "recipe_variant",
                 "cpu_offload_gb": "recipe_variant"}


def _base_option(word: str, engine: Engine) -> str:
    """The option a word names, as the engine reads it: before '=', underscores as dashes, a dotted
    JSON key (--speculative-config.method) as its option, an alias as the option it stands for."""
    name = flag_name(word)
    if name.startswith("--") and "." in name:
        name = name.split(".", 1)[0]
    return engine.flag_aliases.get(name, name)


def extra_flag_problems(config: HostConfig, catalog: Catalog, recipe: Recipe) -> list[tuple[str, str]]:
    """extra_flags holds no secret and repeats nothing a setting renders (the engine takes the last
    one given: `--host 0.0.0.0` after service_bind_host's would serve beyond loopback). The first
    problem only: one line."""
    engine = catalog.engines[config.engine]
    owners = _flag_owners(config, catalog, recipe)
    flags = config.extra_flags
    for at, word in enumerate(flags, start=1):
        what = secret_in(word)
        if what is not None:
            return [("extra_flags", f"item {at} holds {what}; extra flags are written into the unit (0644), "
                                    f"the journal and plan output: {where_to_put(word)}")]
        if not word.startswith("-") or len(word) < 2 or word[1].isdigit():
            continue
        name = flag_name(word)
        shown = word.split("=", 1)[0][:64]
        value = word.split("=", 1)[1] if "=" in word else (flags[at] if at < len(flags) else "")
        if name in SECRET_FLAGS or (flag_says_secret(name) and high_entropy(value)):
            carrier = SECRET_FLAGS.get(name)
            where = f"put it in a 0600 file named by {carrier}" if carrier else \
                f"glmstack passes no such secret to a host; the secrets it does take go in {SECRET_FILES_IN_WORDS}"
            return [("extra_flags", f"item {at} ({shown}) passes a secret on the command line, where the unit "
                                    f"(0644), the journal and plan output show it: {where}")]
        option = _base_option(word, engine)
        refused = next((full for full in engine.refused_flags if full == option or (
            engine.flag_abbreviations and option.startswith("--") and len(option) > 3 and full.startswith(option))),
            None)
        if refused is not None:
            return [("extra_flags", f"item {at} ({shown}) is refused: {refused} {engine.refused_flags[refused]}")]
        if option in owners:
            setting = owners[option]
            return [("extra_flags", f"item {at} ({shown}) repeats {option}, which {setting} renders, and the engine "
                                    f"takes the last one given: {OWNER_HINTS.get(setting, f'set {setting} instead')}")]
        if engine.flag_abbreviations and option.startswith("--") and len(option) > 3:
            taken = sorted(full for full in owners if full.startswith(option))
            if taken:
                setting = owners[taken[0]]
                return [("extra_flags", f"item {at} ({shown}) is a prefix the engine's parser takes for "
                                        f"{taken[0]} (an abbreviation), which {setting} renders: "
                                        f"{OWNER_HINTS.get(setting, f'set {setting} instead')}")]
    return []


# What to do instead of repeating an option a setting renders, where "set <setting>" is not it.
OWNER_HINTS = {
    "recipe_variant": "the recipe renders it (recipe_variant chooses another recipe; the parallel layout is the "
                      "recipe's)",
    "deployment": "the deployment renders it (deployment and the hosts' order in it decide the nodes and ranks)",
    "model_dir": "the weights the plan fetches are what the engine loads (model_source, model_dir, model_entry)",
    "service_api_key_file": "set service_api_key_file (a 0600 file) or service_require_api_key",
}


def where_to_put(text: str) -> str:
    carrier = carrier_of(text)
    if carrier:
        return f"put it in a 0600 file named by {carrier}"
    return f"glmstack passes no such secret to a host; the secrets it does take go in {SECRET_FILES_IN_WORDS}"
