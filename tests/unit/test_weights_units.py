"""The weights units and their script, against values that are hostile or were smuggled past the
schema: the script runs nothing it was given as data, the units parse (systemd's own parser) into
exactly what was meant, and the units are sandboxed like the engine's (systemd's own score)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.config import resolve, resolve_inventory
from glmstack.quoting import Unrepresentable
from glmstack.render import render_unit
from roles.model.operations import fetch_script, share_unit_text, weights_parts, weights_unit_text

DIGEST = "ab" * 32
# Names that would run a command (or end the listing early) if a script took them as shell text.
HOSTILE_NAMES = ["a$(touch pwned-dollar).gguf", "b`touch pwned-backtick`.gguf", "c'$(touch pwned-quote)'.gguf",
                 'e".gguf; touch pwned-semicolon; "', "f%n $HOME \\.gguf"]
# A newline cannot be one shell word or unit value on its line: the renderer refuses it outright.
NEWLINE_NAME = "d.gguf\nLISTING\ntouch pwned-heredoc\n"
HOSTILE_HOST = "cpu-2\n[Service]\nExecStartPre=+/bin/touch /tmp/pwned-unit"
ODD_HOST = "cpu-2 [Service] ExecStartPre=+/bin/touch %n $HOME"
GROUP = [(f"cpu-{i}", {**CPU_MIRROR, "address": f"10.0.0.{i}", "model_fetch_from": "cpu-1"}) for i in (1, 2, 3)]


def with_files(plan, names):
    """The plan as if the schema had let these names through."""
    return dataclasses.replace(plan, model=dataclasses.replace(plan.model, files=tuple((n, DIGEST) for n in names)))


def run_bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", **env})


def pwned(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith("pwned"))


def listing_function(script: str) -> str:
    lines = script.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("listing() {"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}" or lines[i].endswith("; }"))
    return "\n".join(lines[start:end + 1])


def test_a_name_with_a_newline_smuggled_past_the_schema_is_refused_by_the_renderer():
    plan = resolve("n", {**CPU_MIRROR, "model_entry": "tiny.gguf"})
    with pytest.raises(Unrepresentable):
        fetch_script(with_files(plan, [NEWLINE_NAME]))


def test_the_mirror_listing_prints_hostile_names_back_as_data_and_runs_nothing(tmp_path):
    plan = with_files(resolve("n", {**CPU_MIRROR, "model_entry": "tiny.gguf"}), HOSTILE_NAMES)
    script = fetch_script(plan)
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    listed = run_bash(listing_function(script) + "\nlisting", tmp_path)
    assert pwned(tmp_path) == []
    assert listed.stdout == "".join(f"{name} {DIGEST}\n" for name in sorted(HOSTILE_NAMES)), listed


def test_checking_files_given_as_a_path_prints_hostile_names_and_runs_nothing(tmp_path):
    plan = resolve("n", {**CPU_MIRROR, "model_source": "/srv/models/glm", "model_entry": "tiny.gguf"})
    script = fetch_script(with_files(plan, HOSTILE_NAMES))
    # The script's verify(), over a sum that never matches (no file is read).
    helpers = "sha256() { echo none; }\n" + next(line for line in script.splitlines() if line.startswith("verify() "))
    # The checks, up to the entry's (a quoted name may span lines); `exit` made a no-op to run them all.
    checks = script[script.index('verify "$dir"/'):script.index('test -f "$dir"/')]
    result = run_bash(f"{helpers}\nexit() {{ :; }}\n{checks}", tmp_path, dir=str(tmp_path / "weights"))
    # Each check fails and names its file, exactly; nothing ran.
    assert result.stderr == "".join(f"sha256 mismatch for {name}\n" for name in sorted(HOSTILE_NAMES)), result
    assert pwned(tmp_path) == []


def test_a_hostile_seed_name_in_the_receiving_hosts_messages_runs_nothing(tmp_path):
    receiver = resolve_inventory(GROUP)[1]
    seed = "cpu-1'$(touch pwned-seed)'"
    script = fetch_script(dataclasses.replace(receiver, weights_seed=seed))
    timeout = next(line.strip() for line in script.splitlines() if "did not serve them within" in line)
    result = run_bash(f"waited=999999\n{timeout}", tmp_path)
    assert pwned(tmp_path) == [] and result.returncode == 1
    assert f"{seed} did not serve them within" in result.stderr


def test_a_fetch_refuses_names_outside_its_directory(tmp_path):
    """Defence in depth: a seed's manifest is read over the network; its names are checked again."""
    script = fetch_script(resolve_inventory(GROUP)[1])
    lines = script.splitlines()
    start = lines.index("fetch() {")
    fetch = "\n".join(lines[start:lines.index("}", start) + 1])
    for name in ("../outside", "a/../../outside", "/etc/outside", "a//b", "./a"):
        result = run_bash(f"set -eu\ndir={tmp_path}/w\n{fetch}\nfetch {name!r} {DIGEST}", tmp_path)
        assert result.returncode == 1 and "not a plain relative path" in result.stderr, (name, result)


def unit_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_a_hostile_host_name_stays_inside_the_share_units_description(tmp_path):
    seed = resolve_inventory(GROUP)[0]
    with pytest.raises(Unrepresentable):
        share_unit_text(dataclasses.replace(seed, weights_peers=((HOSTILE_HOST, "10.0.0.2"),)))
    text = share_unit_text(dataclasses.replace(seed, weights_peers=((ODD_HOST, "10.0.0.2"),)))
    lines = unit_lines(text)
    assert [line for line in lines if line.startswith("[")] == ["[Unit]", "[Service]"]
    assert [line.split("=", 1)[0] for line in lines if line.startswith("Exec")] == ["ExecStart"]
    description = next(line for line in lines if line.startswith("Description="))
    assert description == ("Description=glmstack: pass the weights of glm-5.2-gguf on to "
                           "cpu-2 [Service] ExecStartPre=+/bin/touch %%n $HOME")
    unit = tmp_path / "glmstack-weights-share-test.service"
    unit.write_text(text)
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and "pwned" not in verified.stderr, verified.stderr


def plans_of_every_kind(tmp_path) -> dict:
    token = tmp_path / "token"
    token.write_text("not-a-token")
    token.chmod(0o600)
    hub = {"model_files": {}, "model_entry": "x/a.gguf"}
    group = resolve_inventory(GROUP)
    graft = resolve("g", {"accelerator": "gh200", "model": "glm-5.2-awq-int4-mtp-fp8", "engine": "vllm",
                          "model_revision": "1" * 40, "model_graft_revision": "2" * 40,
                          "engine_requirement": "vllm @ https://files.lab.example/vllm-0.23.0.post1-cp38-abi3-"
                                                "linux_aarch64.whl#sha256=" + "a" * 64})
    return {
        "http mirror": resolve("n", CPU_MIRROR),
        "hf": resolve("n", {**CPU_MIRROR, **hub, "model_source": "hf://org/repo", "model_revision": "a" * 40,
                            "model_hf_token_file": str(token)}),
        "modelscope": resolve("n", {**CPU_MIRROR, **hub, "model_source": "modelscope://org/repo",
                                    "model_revision": "b" * 40, "model_modelscope_token_file": str(token)}),
        "path": resolve("n", {**CPU_MIRROR, "model_source": "/srv/models/glm", "model_entry": "tiny.gguf"}),
        "passing on": group[0],
        "from the seed": group[1],
        "graft base": weights_parts(graft)[0],
        "graft delta": weights_parts(graft)[1],
    }


OVERALL = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def offline_exposure(directory: Path, name: str, text: str) -> float:
    (directory / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", name], cwd=directory,
                            capture_output=True, text=True, timeout=60)
    found = OVERALL.search(result.stdout)
    if not found and "offline" in result.stderr:
        pytest.skip("this systemd-analyze cannot score unit files offline")
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_every_kind_of_weights_unit_is_sandboxed_like_the_engine(tmp_path):
    """systemd's own exposure score (offline, from the unit file; the lab measures it on a node):
    within 0.5 of the engine unit's, and never run as root."""
    engine = offline_exposure(tmp_path, "llama-server.service", render_unit(resolve("n", CPU_MIRROR)))
    scores = {}
    for kind, plan in plans_of_every_kind(tmp_path).items():
        text = weights_unit_text(plan)
        assert re.search(r"^User=(?!root$)\S+$", text, re.M), kind
        scores[kind] = offline_exposure(tmp_path, "glmstack-weights-test.service", text)
        if plan.weights_peers:
            scores["share"] = offline_exposure(tmp_path, "glmstack-weights-share-test.service", share_unit_text(plan))
    assert all(score <= engine + 0.5 for score in scores.values()), (engine, scores)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_every_kind_of_weights_unit_parses(tmp_path):
    for kind, plan in plans_of_every_kind(tmp_path).items():
        unit = tmp_path / "glmstack-weights-test.service"
        unit.write_text(weights_unit_text(plan))
        verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0 and not verified.stderr.strip(), (kind, verified.stderr)
        assert subprocess.run(["bash", "-n"], input=fetch_script(plan), text=True).returncode == 0, kind


def test_the_roles_unit_quoting_keeps_every_value_on_its_line():
    from glmstack.quoting import Unrepresentable, exec_word, unit_path, unit_setting

    assert unit_setting("100%n") == "100%%n"
    assert exec_word("/var/lib/x") == "/var/lib/x"
    assert exec_word("a b$HOME%h") == '"a b$$HOME%%h"'
    assert unit_path("/var/lib/glmstack/models/glm-5.2") == "/var/lib/glmstack/models/glm-5.2"
    for bad in ["cpu-2\n[Service]", "a\rb\x00c", "x\\", "tab\there"]:
        with pytest.raises(Unrepresentable):
            unit_setting(bad)
    for bad in ["a\nExecStartPre=+/bin/sh", "/x\n"]:
        with pytest.raises(Unrepresentable):
            exec_word(bad)
        with pytest.raises(Unrepresentable):
            unit_path(bad)
    for bad in ["relative", "/with space", "/a\"b"]:
        with pytest.raises(Unrepresentable):
            unit_path(bad)
