"""`glmstack bench`: the command line it builds (the seed's figures, the operator's overrides, no
secret), the table beside the seed's, the tool's requirements, and bad input (cases 2360-2369)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from glmstack import bench, cli
from glmstack.catalog import _read as read_catalog_file
from glmstack.catalog import load_catalog, parse_catalog
from glmstack.planning import plan_inventory

INVENTORY = '''from glmstack.inventory import group

hosts = group([("h200-1.invalid", {}), ("h200-2.invalid", {})], accelerator="h200", model="glm-5.2-fp8",
              engine="vllm")
'''


@pytest.fixture()
def inventory(tmp_path):
    path = tmp_path / "inventory.py"
    path.write_text(INVENTORY)
    return path


def options(inventory, **given):
    values = {"inventory": str(inventory), "target": None, "host": None, "tokenizer": None, "ignore_eos": None,
              **{name: None for name in bench.FIGURES}}
    values.update(given)
    return SimpleNamespace(**values)


def argv_of(inventory, **given) -> list[str]:
    load, target, _ = bench.bench_plan(plan_inventory(inventory), options(inventory, **given))
    return bench.bench_argv("vllm", load, target, "/results")


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_seed_command_is_seed_001s(inventory):
    argv = argv_of(inventory)
    assert argv[:3] == ["vllm", "bench", "serve"]
    # Seed 001: --backend openai-chat --model zai-org/GLM-5.2-FP8 --dataset-name random
    # --random-input-len 8192 --random-output-len 2048 --num-prompts 512 --max-concurrency 32
    # --endpoint /v1/chat/completions
    expected = {"--backend": "openai-chat", "--model": "zai-org/GLM-5.2-FP8", "--dataset-name": "random",
                "--random-input-len": "8192", "--random-output-len": "2048", "--num-prompts": "512",
                "--max-concurrency": "32", "--endpoint": "/v1/chat/completions",
                "--served-model-name": "glm-5.2-fp8", "--tokenizer": "zai-org/GLM-5.2-FP8",
                "--base-url": "https://h200-1.invalid:8000", "--result-dir": "/results"}
    assert {name: flag(argv, name) for name in expected} == expected
    assert "--save-result" in argv and "--request-rate" not in argv and "--ignore-eos" not in argv


def test_every_figure_can_be_overridden(inventory):
    argv = argv_of(inventory, input_len="64", output_len="16", num_prompts="8", max_concurrency="4",
                   request_rate="2.5", ignore_eos=True, target="h200-2.invalid", tokenizer="org/tok")
    assert [flag(argv, name) for name in ("--random-input-len", "--random-output-len", "--num-prompts",
                                          "--max-concurrency", "--request-rate", "--tokenizer", "--model")] == \
        ["64", "16", "8", "4", "2.5", "org/tok", "org/tok"]
    assert "--ignore-eos" in argv
    assert flag(argv, "--base-url") == "https://h200-2.invalid:8000"


def test_the_gateway_is_the_endpoint_when_there_is_one(inventory):
    import dataclasses

    plan = plan_inventory(inventory)[0]
    assert plan.gateway is not None  # on by default (roles/gateway)
    gateway = bench.target_for(plan)
    assert (gateway.base_url, gateway.key_file, gateway.ca_file) == \
        (plan.gateway.url, plan.gateway.key_file, plan.gateway.ca_file)
    assert gateway.base_url == "https://h200-1.invalid:8000"
    engine = bench.target_for(dataclasses.replace(plan, gateway=None))
    assert (engine.base_url, engine.ca_file) == (f"http://h200-1.invalid:{plan.port}", None)
    assert engine.key_file == (plan.api_key.key_file if plan.api_key else None)


def test_the_key_travels_in_the_environment_never_the_command_line(inventory, tmp_path):
    key = "sk-" + "k" * 40
    load, target, _ = bench.bench_plan(plan_inventory(inventory), options(inventory))
    argv = bench.bench_argv("vllm", load, target, str(tmp_path))
    env = bench.bench_env(key, tmp_path / "ca.pem", base={"PATH": "/bin", "OPENAI_API_KEY": "stale",
                                                           "SSL_CERT_FILE": "/stale"})
    assert not any(key in word for word in argv)
    assert env == {"PATH": "/bin", "OPENAI_API_KEY": key, "SSL_CERT_FILE": str(tmp_path / "ca.pem")}
    # Neither kept from the caller's environment when the endpoint takes none.
    assert bench.bench_env(None, None, base={"OPENAI_API_KEY": "stale", "SSL_CERT_FILE": "/x"}) == {}


def test_the_gguf_model_benchmarks_with_its_familys_tokenizer():
    assert bench.default_tokenizer("glm-5.2-gguf") == "zai-org/GLM-5.2-FP8"
    assert bench.default_tokenizer("glm-5.2-fp8") == "zai-org/GLM-5.2-FP8"


RESULT = {"completed": 8, "failed": 0, "num_prompts": 8, "max_concurrency": 4, "output_throughput": 100.0,
          "total_token_throughput": 500.0, "mean_ttft_ms": 12.5, "p99_ttft_ms": 20.0, "mean_tpot_ms": 3.0,
          "mean_itl_ms": 3.0, "p99_itl_ms": 9.0}


def test_the_table_shows_the_run_beside_the_seeds_rows():
    console = Console(record=True, width=400)
    console.print(bench.result_table(RESULT, "lab-1 (from here)", bench.workload({"num_prompts": 8})))
    text = console.export_text()
    lines = [line for line in text.splitlines() if "│" in line]
    run = next(line for line in lines if "lab-1" in line)
    assert "100.00" in run and "25.00" in run and "500.00" in run  # per user: 100 / 4 concurrent
    seed = [line for line in lines if "seed 001" in line]
    assert len(seed) == 2
    assert "1,454.07" in seed[0] and "45.44" in seed[0] and "7,270.35" in seed[0] and "5,403.88" in seed[0]
    assert "1,264.08" in seed[1] and "1,913.21" in seed[1]


def test_the_seeds_figures_are_catalog_data():
    serving = load_catalog().benchmarks.serving
    figures = (serving.input_len, serving.output_len, serving.max_concurrency, serving.num_prompts)
    assert figures == (8192, 2048, 32, 512)
    assert [row.output_throughput for row in serving.results] == [1454.07, 1264.08]


def test_the_catalog_refuses_a_benchmark_row_of_an_unknown_engine():
    parts = {name: read_catalog_file(name) for name in ("accelerators", "engines", "models", "families", "recipes",
                                                        "nvidia", "amd", "ascend", "packages", "host", "benchmarks")}
    parts["benchmarks"]["serving"]["results"][0]["engine"] = "tgi"
    with pytest.raises(ValueError, match="benchmarks: unknown engine 'tgi'"):
        parse_catalog(parts)


METADATA = """Metadata-Version: 2.1
Name: vllm
Version: 0.23.0
Requires-Dist: regex
Requires-Dist: torch==2.11.0
Requires-Dist: transformers!=5.0.*,>=4.56.0
Requires-Dist: flashinfer-python==0.6.12
Requires-Dist: xgrammar<1.0.0,>=0.2.0; platform_machine == "x86_64"
Requires-Dist: pytest; extra == "test"
"""


def test_the_tool_gets_vllms_own_pins_for_what_bench_imports_only():
    assert bench.tool_requirements(METADATA, ["torch", "Transformers", "xgrammar"]) == [
        "torch==2.11.0", "transformers!=5.0.*,>=4.56.0", 'xgrammar<1.0.0,>=0.2.0; platform_machine == "x86_64"']
    with pytest.raises(bench.BenchError, match="pytest not among vllm's requirements"):
        bench.tool_requirements(METADATA, ["torch", "pytest"])


def test_a_saved_result_that_lacks_the_counts_is_refused(tmp_path):
    (tmp_path / bench.RESULT_FILE).write_text(json.dumps({"completed": 1}))
    with pytest.raises(bench.BenchError, match="lacks num_prompts, output_throughput"):
        bench.read_result(tmp_path)


# Bad input: one line naming the host or option and what is allowed; nothing contacted, nothing run.
BAD = {
    "2360_negative_prompts": (["--num-prompts", "-5"],
                              "bench: option --num-prompts: '-5'; allowed: an integer >= 1"),
    "2361_zero_concurrency": (["--max-concurrency", "0"],
                              "bench: option --max-concurrency: '0'; allowed: an integer >= 1"),
    "2362_input_len_not_a_number": (["--input-len", "8k"],
                                    "bench: option --input-len: '8k'; allowed: an integer >= 1"),
    "2363_fractional_output_len": (["--output-len", "1.5"],
                                   "bench: option --output-len: '1.5'; allowed: an integer >= 1"),
    "2364_zero_request_rate": (["--request-rate", "0"], "bench: option --request-rate: '0'; allowed: a number > 0"),
    "2365_unknown_run_host": (["--host", "nowhere.invalid"],
                              "host nowhere.invalid: option --host: not in {inventory}; allowed: h200-1.invalid, "
                              "h200-2.invalid"),
    "2366_unknown_target": (["--target", "h100-9.invalid"],
                            "host h100-9.invalid: option --target: not in {inventory}; allowed: h200-1.invalid, "
                            "h200-2.invalid"),
    "2367_tokenizer_directory_missing": (["--tokenizer", "/nonexistent/tokenizer"],
                                         "bench: option --tokenizer: /nonexistent/tokenizer is not a directory"),
    "2368_nan_request_rate": (["--request-rate", "nan"], "bench: option --request-rate: 'nan'; allowed: a number > 0"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_line_and_runs_nothing(case, inventory, capsys, monkeypatch):
    monkeypatch.setattr(bench, "read_host_files", lambda *a, **k: pytest.fail("contacted a host"))
    monkeypatch.setattr(bench, "vllm_tool", lambda *a, **k: pytest.fail("installed the tool"))
    words, message = BAD[case]
    assert cli.main(["bench", str(inventory), *words]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith(message.format(inventory=inventory)), err


def test_a_model_without_a_tokenizer_repository_asks_for_one(tmp_path, capsys, monkeypatch):
    path = tmp_path / "inventory.py"
    path.write_text(INVENTORY)
    monkeypatch.setattr(bench, "default_tokenizer", lambda model: None)
    assert cli.main(["bench", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("host h200-1.invalid: field model: glm-5.2-fp8 has no tokenizer repository"), err
    assert "--tokenizer" in err


def test_a_run_is_saved_and_printed(inventory, tmp_path, capsys, monkeypatch):
    """The whole command with vllm replaced by a stand-in that writes vllm's result: the directory it
    prints holds the result; the table and the counts are shown; the key reached only the environment."""
    key = "sk-" + "s" * 40
    tool = tmp_path / "vllm"
    seen = tmp_path / "seen.json"
    tool.write_text(f"""#!/usr/bin/env python3
import json, os, sys
argv = sys.argv
directory = argv[argv.index("--result-dir") + 1]
json.dump({{"argv": argv, "key": os.environ.get("OPENAI_API_KEY"), "ca": open(os.environ["SSL_CERT_FILE"]).read()}},
          open({str(seen)!r}, "w"))
result = {json.dumps(RESULT)}
json.dump(result, open(os.path.join(directory, argv[argv.index("--result-filename") + 1]), "w"))
print("vllm stand-in ran")
""")
    tool.chmod(0o755)
    monkeypatch.setattr(bench, "vllm_tool", lambda *a, **k: tool)
    plan = plan_inventory(inventory)[0]
    monkeypatch.setattr(bench, "read_host_files", lambda inv, host, paths: {
        plan.gateway.key_file: key.encode(), plan.gateway.ca_file: b"-----BEGIN CERTIFICATE-----\n"})
    code = cli.main(["bench", str(inventory), "--num-prompts", "8", "--max-concurrency", "4",
                     "--results", str(tmp_path / "results"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    directory = Path(out.strip())
    assert directory.parent == tmp_path / "results"
    assert json.loads((directory / bench.RESULT_FILE).read_text())["completed"] == 8
    assert "seed 001" in err and "1,454.07" in err and "8 of 8 requests completed, 0 failed" in err
    ran = json.loads(seen.read_text())
    assert ran["ca"] == "-----BEGIN CERTIFICATE-----\n"
    assert ran["key"] == key and not any(key in word for word in ran["argv"])
    assert key not in (directory / "command.txt").read_text() + err + out


def test_the_bench_hosts_script_reads_the_key_from_a_file_and_makes_the_tool_once(inventory, tmp_path):
    import shutil
    import subprocess

    load, target, _ = bench.bench_plan(plan_inventory(inventory), options(inventory, num_prompts="8"))
    tokenizer = tmp_path / "tokenizer"
    tokenizer.mkdir()
    local = bench.Target(target.host, target.base_url, target.served_model_name, str(tokenizer), "/k", "/ca")
    script = bench.remote_script("/opt/glmstack", "/var/tmp/glmstack-bench.abc", load, local, key=True, ca=True)
    assert script.startswith("#!/bin/sh\nset -eu\n")
    assert "install python3-venv" in script  # what a host without it is told (exit 3), before anything runs
    assert 'OPENAI_API_KEY="$(cat key)"' in script and "SSL_CERT_FILE=/var/tmp/glmstack-bench.abc/ca.pem" in script
    assert "--no-deps vllm==0.23.0" in script and 'if [ ! -e "$env/.done" ]' in script
    assert "env=/opt/glmstack/venvs/vllm-bench-0.23.0-" in script
    # The tokenizer directory travels with the run; the hub is not asked.
    assert "--tokenizer /var/tmp/glmstack-bench.abc/tokenizer" in script and "HF_HUB_OFFLINE=1" in script
    assert "--num-prompts 8" in script and "--result-dir /var/tmp/glmstack-bench.abc" in script
    if shutil.which("shellcheck"):
        path = tmp_path / "bench-run.sh"
        path.write_text(script)
        checked = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_host_runs_the_benchmark_there_under_its_prefix(inventory, tmp_path, monkeypatch, capsys):
    calls = []

    def remote(inv, host, load, target, key, ca_pem, results, prefix):
        calls.append((host, prefix, key))
        directory = bench.result_directory(results, target.host)
        (directory / bench.RESULT_FILE).write_text(json.dumps(RESULT))
        return bench.BenchRun(RESULT, directory)

    monkeypatch.setattr(bench, "run_remote", remote)
    monkeypatch.setattr(bench, "run_local", lambda *a, **k: pytest.fail("ran here"))
    monkeypatch.setattr(bench, "read_host_files", lambda inv, host, paths: {
        path: (b"sk-" + b"r" * 40 if "key" in path else b"CA") for path in paths})
    code = cli.main(["bench", str(inventory), "--host", "h200-2.invalid", "--results", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert calls == [("h200-2.invalid", "/opt/glmstack", "sk-" + "r" * 40)]
    assert "h200-1.invalid (from h200-2.invalid)" in err
