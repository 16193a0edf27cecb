"""Every command line of every recipe, on every node, parsed by the pinned engine's own parser, and
every engine-prefixed environment variable checked against that engine's own list.

- vLLM and vLLM-Ascend units: vLLM's `vllm serve` parser, its validation, EngineArgs and
  SpeculativeConfig, failing on what vLLM logs as deprecated; vllm-ascend's --additional-config keys
  (check_vllm.py).
- SGLang units: prepare_server_args, ServerArgs (check_sglang.py).
- llama-server: common_params_parse for LLAMA_EXAMPLE_SERVER (llamacpp/parse_args.cpp); the RPC
  workers' ggml-rpc-server runs for real on its address's loopback twin, and the head's --rpc reaches it.
- Ray units: `ray start`'s click command, from the engine's environment as the units run it.
Options must be written in full (no argparse abbreviation). The probes at the end prove each check
can fail: each is a rendered command line or variable with one mistake the issue names.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter

import conformance_envs as envs
import pytest
from conformance_units import SUMMARY, Unit, all_units, on_loopback, plans_by_recipe

from glmstack.catalog import load_catalog
from glmstack.config import setting_flag_owners

CATALOG = load_catalog()
UNITS = all_units(CATALOG)
HERE = envs.HERE
API_KEY = "conformance-key"


def _probe(unit: Unit, suffix: str, argv: list[str] | None = None, env: dict | None = None) -> Unit:
    return Unit(f"{unit.recipe}+{suffix}", unit.host, unit.rank, unit.name, unit.parser,
                tuple(argv if argv is not None else unit.argv), tuple((env or dict(unit.env)).items()))


def _first(parser: str) -> Unit:
    return next(unit for unit in UNITS if unit.parser == parser)


def _without(argv: tuple[str, ...], option: str) -> list[str]:
    """argv less `option` and its value."""
    words = list(argv)
    if option in words:
        index = words.index(option)
        del words[index:index + 2]
    return words


# One mistake each; every one must be refused.
PROBES = {
    # The case: SGLang 0.5.21 has no --tp; argparse took it for --tp-size.
    "sglang --tp": _probe(_first("sglang"), "tp", [*_without(_without(_first("sglang").argv, "--tp"), "--tp-size"),
                                                   "--tp", "8"]),
    "sglang unknown option": _probe(_first("sglang"), "unknown", [*_first("sglang").argv, "--no-such-option"]),
    "vllm abbreviation": _probe(_first("vllm"), "abbrev", [*_without(_first("vllm").argv, "--tensor-parallel-size"),
                                                           "--tensor-parallel", "8"]),
    "vllm deprecated speculative method": _probe(
        _first("vllm"), "deprecated", [*_without(_without(_first("vllm").argv, "--speculative-config.method"),
                                                 "--speculative-config.num_speculative_tokens"),
                                       "--speculative-config", '{"method":"deepseek_mtp","num_speculative_tokens":1}']),
    "vllm bad choice": _probe(_first("vllm"), "choice", [*_first("vllm").argv, "--kv-cache-dtype", "fp9"]),
    "vllm-ascend unknown option": _probe(_first("vllm-ascend"), "unknown",
                                         [*_first("vllm-ascend").argv, "--no-such-option"]),
    "vllm-ascend --additional-config key it never reads": _probe(
        _first("vllm-ascend"), "key", [*_without(_first("vllm-ascend").argv, "--additional-config"),
                                       "--additional-config", '{"enable_mlap0":true}']),
    "ray unknown option": _probe(_first("ray"), "unknown", [*_first("ray").argv, "--no-such-option"]),
    "llama-server unknown option": _probe(_first("llama-server"), "unknown",
                                          [*_first("llama-server").argv, "--no-such-option"]),
    # ggml-rpc-server exits 0 on an unknown argument: its output tells.
    "ggml-rpc-server unknown argument": _probe(_first("ggml-rpc-server"), "unknown",
                                               [*_first("ggml-rpc-server").argv, "--no-such-option"]),
}
ENV_PROBES = {
    "vllm-ascend variable misspelt": ("VLLM_ASCEND_ENABLE_MLAP0", "vllm-ascend"),
    "vllm variable unknown": ("VLLM_NO_SUCH_SETTING", "vllm"),
    "sglang variable unknown": ("SGLANG_NO_SUCH_SETTING", "sglang"),
    "sglang legacy prefix": ("SGL_ENABLE_JIT_DEEPGEMM", "sglang"),
    "llama.cpp variable unknown": ("LLAMA_ARG_NO_SUCH_SETTING", "llama.cpp"),
    "ray variable unknown": ("RAY_NO_SUCH_SETTING", "ray"),
    "vllm-ascend fallback for an --additional-config key": ("VLLM_ASCEND_ENABLE_MLAPO", "vllm-ascend"),
}


def _environment(parser: str):
    """The catalog's own environment for an engine: the first plan (catalog order) that has it."""
    for _, plans in plans_by_recipe(CATALOG):
        plan = plans[0]
        engine = {"vllm": "vllm", "sglang": "sglang"}[parser]
        # vLLM's from a Ray head on NVIDIA: the engine and its pinned Ray, as those units run them.
        if plan.engine_name == engine and plan.nvidia is not None and (engine != "vllm" or plan.ray is not None):
            return plan.engine_env
    raise LookupError(f"no {parser} plan on NVIDIA in the catalog")


def _run_checker(python, script: str, units: list[dict], extra: dict, tmp_path_factory, env=None) -> dict:
    out = tmp_path_factory.mktemp(script.removesuffix(".py")) / "report.json"
    started = time.monotonic()
    result = subprocess.run([str(python), str(HERE / script), str(out)], input=json.dumps({"units": units, **extra}),
                            capture_output=True, text=True, timeout=1200, env=env)
    assert result.returncode == 0 and out.exists(), \
        f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    report = json.loads(out.read_text())
    report["seconds"] = time.monotonic() - started
    return report


@pytest.fixture(scope="session")
def vllm_report(tmp_path_factory):
    env = envs.vllm(_environment("vllm"))
    units = [{"id": unit.id, "argv": list(unit.argv), "ascend": unit.parser == "vllm-ascend",
              "ray": unit.parser == "ray"}
             for unit in [*UNITS, *PROBES.values()] if unit.parser in ("vllm", "vllm-ascend", "ray")]
    # The stub driver libraries: vLLM infers its CUDA platform without a GPU.
    process_env = {**os.environ, "LD_LIBRARY_PATH": str(env.stub_libs), "VLLM_NO_USAGE_STATS": "1",
                   "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    return _run_checker(env.python, "check_vllm.py", units, {"ascend_src": str(env.ascend_src)}, tmp_path_factory,
                        process_env)


@pytest.fixture(scope="session")
def sglang_report(tmp_path_factory):
    python = envs.sglang(_environment("sglang"))
    units = [{"id": unit.id, "argv": list(unit.argv)} for unit in [*UNITS, *PROBES.values()]
             if unit.parser == "sglang"]
    return _run_checker(python, "check_sglang.py", units, {}, tmp_path_factory,
                        {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"})


def _listening(host: str, port: int, process: subprocess.Popen, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _llama_env(unit: Unit) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    for name, value in unit.env:
        if name.startswith("LLAMA_"):
            env[name] = API_KEY if value == "(from its environment file)" else value
    return env


def _rpc_worker(build, unit: Unit) -> tuple[subprocess.Popen, dict]:
    """The worker's own command line, its binary the one built here; running means it took it."""
    words = on_loopback(unit.argv)
    process = subprocess.Popen([str(build.rpc_server), *words[1:]], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=_llama_env(unit))
    host, port = words[words.index("-H") + 1], int(words[words.index("-p") + 1])
    if _listening(host, port, process):
        time.sleep(1)  # it exits 0 after "error: unknown argument": still running is what tells
        if process.poll() is None:
            return process, {"ok": True, "detail": f"listening on {host}:{port}"}
    process.kill()
    output = process.communicate()[0]
    return process, {"ok": False, "error": f"exit {process.returncode}, not listening on {host}:{port}: "
                                           f"{output.strip()[-500:]}"}


def _llama_server(build, unit: Unit) -> dict:
    result = subprocess.run([str(build.parse_args), "parse", *on_loopback(unit.argv)[1:]], capture_output=True,
                            text=True, timeout=120, env=_llama_env(unit))
    if result.returncode != 0:
        return {"ok": False, "error": (result.stderr.strip() or result.stdout.strip())[-800:]}
    return {"ok": True, "detail": result.stdout.strip()}


@pytest.fixture(scope="session")
def llamacpp_report():
    started = time.monotonic()
    build = envs.llamacpp(CATALOG.engines["llama.cpp"].version)
    units = [unit for unit in [*UNITS, *PROBES.values()] if unit.parser in ("llama-server", "ggml-rpc-server")]
    results: dict[str, dict] = {}
    for recipe in dict.fromkeys(unit.recipe for unit in units):
        group = [unit for unit in units if unit.recipe == recipe]
        workers = []
        try:
            # The workers first, as the deploy starts them: the head's --rpc connects to each.
            for unit in group:
                if unit.parser == "ggml-rpc-server":
                    process, results[unit.id] = _rpc_worker(build, unit)
                    workers.append(process)
            for unit in group:
                if unit.parser == "llama-server":
                    results[unit.id] = _llama_server(build, unit)
        finally:
            for process in workers:  # only what this fixture started, by its own handle
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=10)
    names = subprocess.run([str(build.parse_args), "env"], capture_output=True, text=True, check=True).stdout.split()
    return {"results": results, "envs": {"llama.cpp": sorted(set(names))}, "seconds": time.monotonic() - started}


@pytest.fixture(scope="session")
def reports(vllm_report, sglang_report, llamacpp_report):
    merged = {"results": {}, "envs": {}, "versions": {}, "options": {}, "allow_abbrev": {}}
    for report in (vllm_report, sglang_report, llamacpp_report):
        merged["results"].update(report["results"])
        merged["envs"].update(report["envs"])
        merged["versions"].update(report.get("versions", {}))
        merged["options"].update(report.get("options", {}))
        merged["allow_abbrev"].update(report.get("allow_abbrev", {}))
    return merged


@pytest.mark.parametrize("engine", ["vllm", "vllm-ascend", "sglang"])
def test_what_extra_flags_may_not_repeat_is_the_engines_own(reports, engine):
    """The options a setting owns (glmstack.config.setting_flag_owners) and their aliases are the
    engine's, every alias the parser has for an owned option is known (so `-tp` cannot undo the
    layout unnoticed), and the catalog says whether the parser takes abbreviations."""
    data = CATALOG.engines[engine]
    groups = reports["options"][engine]
    options = {option for group in groups for option in group}
    owners = setting_flag_owners(data)
    assert set(owners) <= options, sorted(set(owners) - options)
    assert set(data.refused_flags) <= options, sorted(set(data.refused_flags) - options)
    for alias, option in data.flag_aliases.items():
        assert any(alias in group and option in group for group in groups), f"{alias} is not {option}'s alias"
    for group in groups:
        if any(option in owners for option in group):
            forgotten = [option for option in group if option not in owners and not option.startswith("--no-")
                         and data.flag_aliases.get(option) not in owners]
            assert not forgotten, f"{group}: extra_flags could repeat {forgotten}"
    assert data.flag_abbreviations == reports["allow_abbrev"][engine]


def test_every_recipe_of_the_catalog_is_checked_on_every_node(reports):
    checked = [unit for unit in UNITS if unit.id in reports["results"]]
    recipes = {unit.recipe for unit in checked}
    assert len(recipes) == len(CATALOG.recipes)
    for recipe, plans in plans_by_recipe(CATALOG):
        assert {unit.host for unit in checked if unit.recipe == f"{recipe.model}/{recipe.accelerator}/"
                f"{recipe.engine}/{recipe.variant}"} == {plan.host for plan in plans}
    by_parser = Counter(unit.parser for unit in checked)
    variables = sum(len(unit.engine_env()) for unit in UNITS)
    SUMMARY.append(f"{len(checked)} units of {len(recipes)} recipes parsed by the engines' own parsers: "
                   + ", ".join(f"{count} {parser}" for parser, count in sorted(by_parser.items())))
    SUMMARY.append(f"{variables} engine-prefixed environment variables checked against the engines' own lists "
                   f"({', '.join(f'{name} {len(names)}' for name, names in sorted(reports['envs'].items()))})")
    SUMMARY.append(f"{len(PROBES) + len(ENV_PROBES)} probes refused; versions: "
                   + ", ".join(f"{name} {version}" for name, version in sorted(reports["versions"].items())))
    assert len(checked) == len(UNITS)


@pytest.mark.parametrize("unit", UNITS, ids=[unit.id for unit in UNITS])
def test_the_engine_parses_the_command_line(reports, unit):
    result = reports["results"][unit.id]
    assert result["ok"], f"{unit.id}: {result['error']}\n  {' '.join(unit.argv)}"


def _unknown_variables(unit_env: list[tuple[str, str, str]], lists: dict[str, list[str]]) -> list[str]:
    problems = []
    for name, _, owner in unit_env:
        known = set(lists[owner])
        if owner == "vllm-ascend":
            known |= set(lists["vllm"])  # vllm-ascend runs vLLM, which reads its own
        if owner == "vllm-ascend" and name in lists["vllm-ascend-fallbacks"]:
            problems.append(f"{name}: vllm-ascend reads it only as a fallback for additional_config."
                            f"{lists['vllm-ascend-fallbacks'][name]} and will remove it: render that key in "
                            "--additional-config")
        elif owner == "sglang" and name.startswith("SGL_"):
            problems.append(f"{name}: SGLang reads SGL_ names only as deprecated spellings of SGLANG_ ones")
        elif owner == "sglang" and name in lists.get("sglang-deprecated", []):
            problems.append(f"{name}: deprecated in SGLang")
        elif name not in known:
            problems.append(f"{name}: not in {owner}'s own list")
    return problems


@pytest.mark.parametrize("unit", UNITS, ids=[unit.id for unit in UNITS])
def test_every_engine_variable_is_one_the_engine_reads(reports, unit):
    problems = _unknown_variables(unit.engine_env(), reports["envs"])
    assert not problems, f"{unit.id}: " + "; ".join(problems)


@pytest.mark.parametrize("name", PROBES)
def test_a_command_line_with_a_mistake_is_refused(reports, name):
    result = reports["results"][PROBES[name].id]
    assert not result["ok"], f"{name}: accepted: {' '.join(PROBES[name].argv)}"


@pytest.mark.parametrize("name", ENV_PROBES)
def test_a_variable_with_a_mistake_is_refused(reports, name):
    variable, owner = ENV_PROBES[name]
    assert _unknown_variables([(variable, "1", owner)], reports["envs"]) != []
