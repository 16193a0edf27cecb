"""Serving arguments come once per model family (families.yaml) and every recipe still resolves to
the arguments the seeds give it; a recipe's own serving_args replace the family's."""

import pytest
from pydantic import ValidationError

from glmstack.catalog import Catalog, load_catalog

# Seed 000 (vLLM recipe for GLM-5.2) and the vllm-ascend tutorial (seed 002): GLM-4.7 tool calls,
# GLM-4.5 reasoning, automatic tool choice.
GLM52 = ['--tool-call-parser', 'glm47', '--reasoning-parser', 'glm45', '--enable-auto-tool-choice']
# Seed 004 (vLLM recipe for GLM-4.5).
GLM45 = ['--tool-call-parser', 'glm45', '--reasoning-parser', 'glm45', '--enable-auto-tool-choice']
# Seed 001 (HGX B200, SGLang and the vLLM benchmark): the model's code trusted, no auto tool choice.
SEED001 = ['--trust-remote-code', '--tool-call-parser', 'glm47', '--reasoning-parser', 'glm45']
# Seed 000's AMD command: the parsers in its own order, then the AITER backends.
AMD = ["--tool-call-parser", "glm47", "--enable-auto-tool-choice", "--reasoning-parser", "glm45",
       "--linear-backend", "aiter", "--moe-backend", "aiter"]
GH200 = ["--cpu-offload-params", "experts", "--numa-bind"]  # seed 003's expert offload, NUMA binding
# The vllm-ascend GLM-5.2 tutorial's own arguments (seed 002).
EP = ["--enable-expert-parallel"]
TRUST_GRAPH = ["--trust-remote-code", "--compilation-config", '{"cudagraph_mode":"FULL_DECODE_ONLY"}']

# What each recipe rendered before the catalog kept serving arguments per family (3f70673).
EXPECTED = {
    ('glm-5.2-fp8', 'h200', 'vllm', 'default'): GLM52,
    ('glm-5.2-fp8', 'h20', 'vllm', 'default'): GLM52,
    ('glm-5.2-fp8', 'b200', 'vllm', 'default'): GLM52,
    ('glm-5.2-fp8', 'b200', 'vllm', 'cu129-benchmark'): SEED001,
    ('glm-5.2-fp8', 'b200', 'sglang', 'default'): SEED001,
    ('glm-5.2-fp8', 'h100', 'vllm', 'default'): GLM52,
    ('glm-5.2-fp8', 'h100', 'vllm', 'mp'): GLM52,
    ('glm-5.2-fp8', 'mi300x', 'vllm', 'default'): AMD,
    ('glm-5.2-fp8', 'mi355x', 'vllm', 'default'): AMD,
    ('glm-5.2-fp8', 'gh200', 'vllm', 'default'): [*GH200, *GLM52],
    ('glm-5.2-awq-int4', 'gh200', 'vllm', 'default'): [*GH200, *GLM52],
    ('glm-5.2-awq-int4-mtp-fp8', 'gh200', 'vllm', 'default'): [*GH200, *GLM52],
    ('glm-5.2-gguf', 'cpu', 'llama.cpp', 'default'): ['--jinja'],
    ('glm-5.2-gguf', 'cpu', 'llama.cpp', 'rpc'): ['--jinja', '--n-gpu-layers', '40'],
    ('glm-5.2-w8a8', 'ascend-a3', 'vllm-ascend', 'default'): [*EP, '--quantization', 'ascend', *TRUST_GRAPH, *GLM52],
    ('glm-5.2-w8a8', 'ascend-a2', 'vllm-ascend', 'default'): [*EP, '--quantization', 'ascend', *TRUST_GRAPH, *GLM52],
    ('glm-5.2-bf16', 'ascend-a3', 'vllm-ascend', 'default'): [*EP, *TRUST_GRAPH, *GLM52],
    ('glm-5.2-bf16', 'ascend-a2', 'vllm-ascend', 'default'): [*EP, *TRUST_GRAPH, *GLM52],
    ('glm-5.2-bf16', 'h200', 'vllm', 'default'): GLM52,
    ('glm-5.2-bf16', 'h200', 'vllm', 'mp'): GLM52,
    ('glm-5.2-bf16', 'h200', 'sglang', 'default'): SEED001,
    ('glm-5.2-bf16', 'h100', 'vllm', 'default'): GLM52,
    ('glm-4.5-fp8', 'h200', 'vllm', 'default'): GLM45,
    ('glm-4.5-fp8', 'h200', 'vllm', 'mtp'): GLM45,
    ('glm-4.5-bf16', 'h200', 'vllm', 'default'): GLM45,
    ('glm-4.5-fp8', 'mi300x', 'vllm', 'default'): GLM45,
    ('glm-4.5-fp8', 'mi355x', 'vllm', 'default'): GLM45,
}


def test_every_recipe_resolves_to_the_seeds_arguments():
    resolved = {(r.model, r.accelerator, r.engine, r.variant): r.args for r in load_catalog().recipes}
    assert resolved == EXPECTED


def test_recipes_no_longer_repeat_the_family_arguments():
    catalog = load_catalog()
    repeating = [r for r in catalog.recipes if r.serving_args is not None and r.serving_args ==
                 catalog.families[catalog.models[r.model].family].serving_args.get(r.engine)]
    assert not repeating
    assert sum(r.serving_args is None for r in catalog.recipes) >= 24


def _catalog_with(recipes):
    catalog = load_catalog()
    data = {name: getattr(catalog, name) for name in Catalog.model_fields}
    return Catalog(**{**data, "recipes": recipes})


def test_a_recipe_override_wins_over_the_family():
    h200 = {"model": "glm-5.2-fp8", "accelerator": "h200", "engine": "vllm", "seed": "000", "note": "n"}
    family, own = _catalog_with([{**h200, "args": ["--numa-bind"]},
                                 {**h200, "variant": "own", "args": ["--numa-bind"],
                                  "serving_args": ["--reasoning-parser", "glm45"]}]).recipes
    assert family.args == ["--numa-bind", *GLM52]
    assert own.args == ["--numa-bind", "--reasoning-parser", "glm45"]


def test_a_family_entry_naming_an_unknown_engine_is_refused():
    catalog = load_catalog()
    data = {name: getattr(catalog, name) for name in Catalog.model_fields}
    with pytest.raises(ValidationError, match="serving_args names unknown engine 'vlm'"):
        Catalog(**{**data, "families": {"glm-5.2": {"serving_args": {"vlm": ["--x"]}}}})
