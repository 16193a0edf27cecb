"""Every default the catalog renders means to the engine what the recipe says, and can start.

Issue 15, findings 4, 7 and 8: read against the engines' own code (vLLM 0.23.0, vllm-ascend
0.23.0, SGLang 0.5.21), a default must fit its KV cache, must not set what the engine deprecates,
undoes or is about to drop, and the plan must name the engine release's known limitations.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from glmstack.catalog import load_catalog
from glmstack.cli import main
from glmstack.config import InventoryError, resolve_inventory
from glmstack.examples import recipe_hosts

PIN = "3" * 40
WHEEL = "vllm @ https://wheels.example/vllm-0.23.1.dev1-cp38-abi3-manylinux_2_28_x86_64.whl#sha256=" + "a" * 64
# vLLM 0.23.0 vllm/config/speculative.py: every MTPModelTypes name but "mtp" logs "method `%s` is
# deprecated and replaced with mtp" (the names that select an MTP draft model).
DEPRECATED_MTP_METHODS = {"deepseek_mtp", "mimo_mtp", "glm4_moe_mtp", "glm4_moe_lite_mtp", "ernie_mtp",
                          "qwen3_next_mtp", "longcat_flash_mtp", "pangu_ultra_moe_mtp", "openpangu_mtp"}
# vllm-ascend 0.23.0 vllm_ascend/ascend_config.py: AscendConfig._get_config_value reads these variables
# only when --additional-config lacks the key, logs that the variable "will be removed in the next
# release", and says to use the key instead.
ASCEND_ENV_FALLBACKS = {
    "VLLM_ASCEND_BALANCE_SCHEDULING": "enable_balance_scheduling",
    "VLLM_ASCEND_ENABLE_FLASHCOMM1": "enable_flashcomm1",
    "VLLM_ASCEND_ENABLE_MATMUL_ALLREDUCE": "enable_matmul_allreduce",
    "VLLM_ASCEND_ENABLE_FUSED_MC2": "enable_fused_mc2",
    "VLLM_ASCEND_ENABLE_MLAPO": "enable_mlapo",
    "VLLM_ASCEND_FLASHCOMM2_PARALLEL_SIZE": "enable_flashcomm2_parallel_size",
    "MSMONITOR_USE_DAEMON": "msmonitor_use_daemon",
    "VLLM_ASCEND_FUSION_OP_TRANSPOSE_KV_CACHE_BY_BLOCK": "enable_transpose_kv_cache_by_block",
    "VLLM_ASCEND_ENABLE_NZ": "weight_nz_mode",
}


RECIPES = {f"{r.model}/{r.accelerator}/{r.engine}/{r.variant}": r for r in load_catalog().recipes}


def head_plan(recipe, **extra):
    hosts = [(name, {**data, **extra}) for name, data in recipe_hosts(recipe)]
    return resolve_inventory(hosts)[0]


def option_value(argv, option: str) -> str | None:
    words = list(argv)
    return words[words.index(option) + 1] if option in words else None


def write_inventory(tmp_path, data: dict, hosts=("h1",)):
    path = tmp_path / "inventory.py"
    path.write_text(textwrap.dedent(f"""\
        from glmstack.inventory import group
        nodes = group({[(name, {}) for name in hosts]!r}, **{data!r})
        """))
    return path


def plan_json(capsys, path) -> dict:
    assert main(["plan", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


H200 = {"accelerator": "h200", "model": "glm-5.2-fp8", "engine": "vllm"}


# ---- finding 4: a default starts: its context fits the KV cache -------------------------------

@pytest.mark.parametrize("recipe", RECIPES.values(), ids=RECIPES.keys())
def test_every_default_caps_a_context_its_kv_cache_cannot_hold(recipe):
    plan = head_plan(recipe)
    engine = load_catalog().engines[recipe.engine]
    native = load_catalog().models[recipe.model].native_context
    if not plan.sizing.checked or "max_model_len" not in engine.flags:
        return
    option = engine.flags["max_model_len"][0]
    rendered = option_value(plan.serve_argv, option)
    caps_itself = getattr(engine, "caps_context_itself", False)  # (absent before issue 15)
    if plan.sizing.kv_tokens < native and not caps_itself:
        assert rendered is not None, f"{option} missing: only {plan.sizing.kv_tokens} of {native} tokens fit"
    if plan.sizing.kv_tokens < native and rendered is None:
        # SGLang: starts anyway, each request limited to what the KV cache holds; the plan says so.
        assert any("the engine caps it" in note for note in plan.sizing.notes), plan.sizing.notes
    if rendered is not None and rendered.isdigit():
        assert int(rendered) <= plan.sizing.kv_tokens
    assert plan.sizing.fits, plan.sizing.problems


def test_h200_default_lets_vllm_fit_the_context_and_the_plan_says_so(tmp_path, capsys):
    document = plan_json(capsys, write_inventory(tmp_path, H200))
    host = document["hosts"][0]
    assert option_value(host["command"], "--max-model-len") == "auto"
    context = host["sizing"]
    # 754,540 tokens fit by the plan's estimate, rounded down to whole 1,024-token steps.
    assert context["context_cap"] == 736 * 1024
    assert context["max_model_len_rendered"] == "auto"
    assert any("--max-model-len auto" in note and "1.00M" in note for note in context["notes"])
    assert main(["plan", str(write_inventory(tmp_path, H200))]) == 0
    assert "--max-model-len auto" in capsys.readouterr().err


def test_an_engine_without_an_automatic_length_gets_the_rounded_cap():
    def no_auto(data):
        data["engines"]["vllm"]["max_model_len_auto"] = None
    catalog = mutated_catalog(no_auto)
    plan = resolve_inventory([("h1", H200)], catalog=catalog)[0]
    assert option_value(plan.serve_argv, "--max-model-len") == str(736 * 1024)
    assert plan.sizing.max_model_len_rendered == str(736 * 1024) and plan.sizing.fits


def test_sglang_is_left_to_cap_the_context_itself_and_the_plan_says_so():
    plan = head_plan(RECIPES["glm-5.2-fp8/b200/sglang/default"])
    assert "--context-length" not in plan.serve_argv  # seed 001's benchmarked command, unchanged
    assert plan.sizing.context_cap == 652 * 1024 and plan.sizing.max_model_len_rendered is None
    assert any("the engine caps it: nothing rendered" in note for note in plan.sizing.notes)


def test_a_context_that_fits_or_a_host_setting_is_left_alone():
    b200 = resolve_inventory([("h1", {**H200, "accelerator": "b200"})])[0]
    assert "--max-model-len" not in b200.serve_argv and b200.sizing.context_cap is None
    chosen = resolve_inventory([("h1", {**H200, "max_model_len": 131072})])[0]
    assert option_value(chosen.serve_argv, "--max-model-len") == "131072" and chosen.sizing.context_cap is None
    with pytest.raises(InventoryError, match="lower max_model_len to 754540 or less"):
        resolve_inventory([("h1", {**H200, "max_model_len": 1048576})])


def mutated_catalog(mutate):
    data = load_catalog().model_dump()
    mutate(data)
    return type(load_catalog()).model_validate(data)


# ---- finding 7: render what the engine means ---------------------------------------------------

def speculative_method(argv) -> str | None:
    method = option_value(argv, "--speculative-config.method")
    config = option_value(argv, "--speculative-config")
    return method or (json.loads(config)["method"] if config else None)


@pytest.mark.parametrize("recipe", RECIPES.values(), ids=RECIPES.keys())
def test_no_recipe_renders_a_deprecated_speculative_method(recipe):
    method = speculative_method(head_plan(recipe).serve_argv)
    assert method not in DEPRECATED_MTP_METHODS, f"vLLM 0.23.0 logs that {method} is deprecated: use mtp"


ASCEND = {key: r for key, r in RECIPES.items() if r.engine == "vllm-ascend"}


def additional_config(argv) -> dict:
    words = list(argv)
    values = [words[i + 1] for i, word in enumerate(words) if word == "--additional-config"]
    assert len(values) <= 1, f"--additional-config given {len(values)} times: the last replaces the others"
    return json.loads(values[0]) if values else {}


@pytest.mark.parametrize("recipe", ASCEND.values(), ids=ASCEND.keys())
def test_ascend_recipes_set_additional_config_keys_not_their_fallback_variables(recipe):
    plan = head_plan(recipe)
    fallbacks = sorted(set(plan.serve_env) & set(ASCEND_ENV_FALLBACKS))
    assert not fallbacks, f"{fallbacks} are fallbacks for --additional-config keys and are going away"
    additional_config(plan.serve_argv)


@pytest.mark.parametrize("recipe", ASCEND.values(), ids=ASCEND.keys())
def test_ascend_recipes_do_not_ask_for_what_the_engine_switches_off(recipe):
    plan = head_plan(recipe)
    config = additional_config(plan.serve_argv)
    fused = int(config.get("enable_fused_mc2", plan.serve_env.get("VLLM_ASCEND_ENABLE_FUSED_MC2", 0)))
    # ascend_config.py: fused MC2 == 1 switches multistream_overlap_shared_expert off with a warning.
    assert not (fused == 1 and config.get("multistream_overlap_shared_expert")), config
    # The seed's choice, made explicit: shared experts overlapped, fused MC2 off (it is only read on
    # A3, and its dispatch_ffn_combine path is documented as non-MTP; the recipes run MTP).
    assert config.get("multistream_overlap_shared_expert") is True and fused == 0


def test_w8a8_asks_for_mlapo_and_bf16_does_not():
    w8a8 = additional_config(head_plan(RECIPES["glm-5.2-w8a8/ascend-a3/vllm-ascend/default"]).serve_argv)
    bf16 = additional_config(head_plan(RECIPES["glm-5.2-bf16/ascend-a2/vllm-ascend/default"]).serve_argv)
    assert w8a8["enable_mlapo"] is True and bf16["enable_mlapo"] is False


def test_catalog_refuses_a_recipe_setting_a_variable_an_additional_config_key_replaces():
    def mlapo_env(data):
        for recipe in data["recipes"]:
            if recipe["engine"] == "vllm-ascend":
                recipe["env"]["VLLM_ASCEND_ENABLE_MLAPO"] = "1"
    with pytest.raises(ValueError, match="VLLM_ASCEND_ENABLE_MLAPO is a fallback for --additional-config key "
                                         "enable_mlapo"):
        mutated_catalog(mlapo_env)


def test_host_extra_env_that_an_additional_config_key_replaces_is_refused():
    recipe = RECIPES["glm-5.2-w8a8/ascend-a3/vllm-ascend/default"]
    with pytest.raises(InventoryError, match="field extra_env: VLLM_ASCEND_ENABLE_FUSED_MC2 is a fallback for "
                                             "--additional-config key enable_fused_mc2"):
        head_plan(recipe, extra_env={"VLLM_ASCEND_ENABLE_FUSED_MC2": "1"})


def test_host_additional_config_is_merged_into_the_recipe_object():
    recipe = RECIPES["glm-5.2-w8a8/ascend-a3/vllm-ascend/default"]
    plan = head_plan(recipe, extra_flags=["--additional-config", '{"enable_flashcomm1": true}'])
    config = additional_config(plan.serve_argv)
    assert config["enable_flashcomm1"] is True and config["multistream_overlap_shared_expert"] is True


SGLANG = {key: r for key, r in RECIPES.items() if r.engine == "sglang"}


@pytest.mark.parametrize("recipe", SGLANG.values(), ids=SGLANG.keys())
def test_sglang_is_started_as_sglang_serve_with_its_full_option_names(recipe):
    plan = head_plan(recipe)
    argv = list(plan.serve_argv)
    # sglang 0.5.21's console script `sglang` (sglang.cli.main); `python -m sglang.launch_server`
    # warns that `sglang serve` is the recommended entrypoint.
    assert argv[0].endswith("/bin/sglang") and argv[1] == "serve"
    # ServerArgs has --tp-size (alias --tensor-parallel-size) and no --tp: argparse would only take
    # it as an abbreviation.
    assert "--tp" not in argv and option_value(argv, "--tp-size") == str(recipe.parallel.tensor_parallel_size)
    assert "sglang.cli.main" in plan.engine_env.imports if plan.engine_env else True


# ---- finding 8: tool calling with MTP needs vLLM's main branch (seed 000) ----------------------

def limitations(document_host: dict) -> list[dict]:
    return document_host.get("limitations", [])


def test_plan_says_vllm_0_23_cannot_combine_tool_calling_and_mtp(tmp_path, capsys):
    host = plan_json(capsys, write_inventory(tmp_path, H200))["hosts"][0]
    found = [item for item in limitations(host) if item["name"] == "tool-calling-with-mtp"]
    assert found and found[0]["seed"] == "000" and "main branch" in found[0]["message"]
    assert "num_speculative_tokens: 0" in found[0]["message"] and "engine_requirement" in found[0]["message"]
    assert main(["plan", str(write_inventory(tmp_path, H200))]) == 0
    assert "vllm limitation tool-calling-with-mtp (seed 000): vLLM 0.23.0 does not serve" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", [r for r in RECIPES.values() if r.engine == "vllm" and r.model.startswith(
    "glm-5.2") and r.tunables.get("num_speculative_tokens") and "--enable-auto-tool-choice" in r.args],
    ids=lambda r: f"{r.model}/{r.accelerator}/{r.variant}")
def test_every_gpu_default_combining_them_is_flagged(recipe):
    plan = head_plan(recipe)
    if plan.config.engine_requirement is None:
        assert [item.name for item in getattr(plan, "limitations", ())] == ["tool-calling-with-mtp"]


def test_glm45_is_not_flagged_the_seed_speaks_of_glm52():
    plan = head_plan(RECIPES["glm-4.5-fp8/h200/vllm/mtp"])
    assert "--enable-auto-tool-choice" in plan.serve_argv and not plan.limitations


def test_mtp_off_or_a_pinned_main_build_lifts_the_limitation():
    mtp_off = resolve_inventory([("h1", {**H200, "num_speculative_tokens": 0})])[0]
    assert not mtp_off.limitations and "--enable-auto-tool-choice" in mtp_off.serve_argv
    assert "--speculative-config.method" not in mtp_off.serve_argv
    main_build = resolve_inventory([("h1", {**H200, "engine_requirement": WHEEL})])[0]
    assert not main_build.limitations and "--speculative-config.method" in main_build.serve_argv


def test_the_limitation_is_catalog_data_with_its_seed():
    limits = {item.name: item for item in load_catalog().engines["vllm"].default.limitations}
    assert limits["tool-calling-with-mtp"].seed == "000"
    assert limits["tool-calling-with-mtp"].when_args == ["--enable-auto-tool-choice"]
    assert limits["tool-calling-with-mtp"].when_tunables == ["num_speculative_tokens"]
