"""`glmstack bench` in the lab: the seeds' benchmark, in a small profile, against llama.cpp through
the front door (the package's two replicas behind their gateways), from the control machine:
vllm's saved result parses and counts exactly the requests sent, and the printed table carries the
seed's rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from glmstack import cli
from glmstack.bench import RESULT_FILE
from glmstack.lab.profile import lab_tokenizer

pytestmark = pytest.mark.lab

PROMPTS, INPUT, OUTPUT, CONCURRENCY = 8, 64, 16, 4


def test_a_small_profile_through_the_front_door(front_door, tmp_path, capsys):
    tokenizer = lab_tokenizer(front_door.paths)
    first = front_door.addresses[0]
    code = cli.main(["bench", str(front_door.inventory), "--target", first, "--num-prompts", str(PROMPTS),
                     "--input-len", str(INPUT), "--output-len", str(OUTPUT), "--max-concurrency", str(CONCURRENCY),
                     "--tokenizer", str(tokenizer), "--results", str(tmp_path)])
    out, err = capsys.readouterr()
    print(err)  # the table, for the docs (pytest -s)
    assert code == 0, err[-4000:]
    directory = Path(out.strip().splitlines()[-1])
    # Through the first node's gateway (TLS, its key and CA read over SSH), not the engine.
    assert front_door.url(first).startswith("https://")
    assert f"--base-url {front_door.url(first)}" in (directory / "command.txt").read_text()
    assert front_door.keys[first] not in (directory / "command.txt").read_text() + out + err
    assert directory.parent == tmp_path
    result = json.loads((directory / RESULT_FILE).read_text())
    assert (result["num_prompts"], result["completed"], result["failed"]) == (PROMPTS, PROMPTS, 0)
    assert result["max_concurrency"] == CONCURRENCY
    assert result["total_input_tokens"] >= PROMPTS * INPUT  # the server counts the chat template too
    assert 0 < result["total_output_tokens"] <= PROMPTS * OUTPUT
    assert result["output_throughput"] > 0
    rows = [line for line in err.splitlines() if "│" in line]
    assert any("seed 001" in line and "1,454.07" in line for line in rows), err
    assert any(f"{INPUT}/{OUTPUT} tok, {CONCURRENCY} at once, {PROMPTS} prompts" in line for line in rows), err
    assert f"{PROMPTS} of {PROMPTS} requests completed, 0 failed" in err


@pytest.mark.skipif(os.environ.get("GLMSTACK_SLOW") != "1", reason="slow tier: installs the 5.6 GB tool on a node")
def test_the_same_profile_from_a_bench_host(front_door, tmp_path, capsys):
    """--host: the second node runs the benchmark against the first's gateway; the tool is made on
    it under its prefix, the key and CA go there as files in a 0700 directory removed afterwards."""
    first, bench_host = front_door.addresses
    # A llama.cpp node has no python3-venv (nothing it serves needs uv); the bench host needs it.
    front_door.connection(bench_host).run_expect([0], "python3 -c 'import ensurepip' 2>/dev/null || "
                                                      "{ apt-get update -qq && apt-get install -y -qq python3-venv; }")
    code = cli.main(["bench", str(front_door.inventory), "--target", first, "--host", bench_host,
                     "--num-prompts", str(PROMPTS), "--input-len", str(INPUT), "--output-len", str(OUTPUT),
                     "--max-concurrency", str(CONCURRENCY), "--tokenizer", str(lab_tokenizer(front_door.paths)),
                     "--results", str(tmp_path)])
    out, err = capsys.readouterr()
    print(err)
    assert code == 0, err[-4000:]
    result = json.loads((Path(out.strip().splitlines()[-1]) / RESULT_FILE).read_text())
    assert (result["num_prompts"], result["completed"], result["failed"]) == (PROMPTS, PROMPTS, 0)
    assert f"{first} (from {bench_host})" in err
    node = front_door.connection(bench_host)
    assert node.check_output("ls -d /var/tmp/glmstack-bench.* 2>/dev/null || true") == ""
    journal = node.check_output("journalctl --no-pager -q 2>/dev/null | tail -n 2000 || true")
    assert front_door.keys[first] not in journal
