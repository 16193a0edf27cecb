"""Every shell script the deploy writes to a host or runs there, rendered for every catalog recipe,
passes Debian's shellcheck (`-S warning`: errors and warnings; `make test` installs shellcheck).

What is checked, each in the shell that runs it: the weights unit's fetch script, the graft
script and the packages unit's fetch script (/bin/bash), the llama.cpp build and the engine install
scripts (each also as it installs from the host passing the weights on) and the readiness wait
(operations: pyinfra runs them with sh), every `/bin/bash -c` script of a rendered unit's Exec*
lines, AMD's GRUB drop-in (sourced by grub-mkconfig's sh), and any static roles/*/files/*.sh.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from glmstack.catalog import load_catalog
from glmstack.examples import recipe_hosts, recipe_label
from glmstack.paths import REPO_ROOT
from glmstack.resolve import resolve_inventory
from roles.amd import operations as amd
from roles.engine.operations import install_script
from roles.llamacpp import operations as llamacpp
from roles.model import fanout_operations as fanout
from roles.model import operations as model
from roles.service import operations as service
from roles.service.render import rendered_files
from roles.service.units import node_unit_specs

SHELLCHECK = shutil.which("shellcheck")
# Errors and warnings; info (SC2086 on values known to be one word, say) and style are not gated.
SEVERITY = "warning"
# Every script: a file the host provides (CANN's set_env.sh) is sourced by a path shellcheck cannot follow.
EVERYWHERE = ("-e", "SC1090")
# Findings that are not bugs, each kind's with its reason; a fix would change bytes a host keeps.
EXCLUDED = {
    # grub-mkconfig reads the variable after sourcing the drop-in.
    "grub": ("SC2034",),
    # `base` is set by each mode that calls the shared fetch() (a hub download never does), and
    # `rc` inside the EXIT trap's own quoted handler: shellcheck sees neither.
    "fetch-weights": ("SC2154",),
    # source_first_existing is shared with the CannEnvironment fact, which reads `found`; a group of
    # one alternative is a loop that runs once.
    "engine-install": ("SC2034", "SC2043"),
    # A unit's wait for the other nodes loops over their endpoints, however many the deployment has.
    "unit-exec": ("SC2043",),
}


def excluded(kind: str) -> tuple[str, ...]:
    return tuple(option for code in EXCLUDED[kind] for option in ("-e", code))
RECIPES = {recipe_label(recipe): recipe for recipe in load_catalog().recipes}


def _exec_words(line: str) -> list[str]:
    """An Exec* line's words as systemd passes them (glmstack.quoting.exec_line read back)."""
    words = [re.sub(r"\\(.)", r"\1", match.group(1)) if match.group(1) is not None else match.group(2)
             for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', line)]
    return [word.replace("$$", "$").replace("%%", "%") for word in words]


def unit_shell_scripts(text: str) -> list[str]:
    """The script of each `bash -c` / `sh -c` command line of a unit."""
    scripts = []
    for line in text.splitlines():
        match = re.match(r"Exec\w+=[-+@!:]*(.*)", line)
        if match:
            words = _exec_words(match.group(1))
            if len(words) > 2 and words[0] in ("/bin/bash", "/usr/bin/bash", "/bin/sh") and words[1] == "-c":
                scripts.append(words[2])
    return scripts


def recipe_scripts(label: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(name, shell, script, extra shellcheck options) for every shell script of the recipe's nodes."""
    found = []
    for host, plan in zip([h for h, _ in recipe_hosts(RECIPES[label])],
                          resolve_inventory(recipe_hosts(RECIPES[label])), strict=True):
        for part in model.weights_parts(plan):
            found.append((f"{host}-fetch-weights-{part.config.model}.sh", "bash", model.fetch_script(part),
                          excluded("fetch-weights")))
        if model.keeps_weights(plan):
            found.append((f"{host}-keep-weights.sh", "sh", model.keep_weights_script(plan), ()))
        if plan.model.graft is not None and not plan.rpc_worker:
            found.append((f"{host}-graft-weights.sh", "bash", model.graft_script(plan), ()))
        if plan.llamacpp:
            found.append((f"{host}-llamacpp-build.sh", "sh", llamacpp.build_script(plan.llamacpp), ()))
            if plan.fanout and plan.fanout.llamacpp:
                found.append((f"{host}-llamacpp-build-fanout.sh", "sh",
                              llamacpp.build_script(plan.llamacpp, plan.fanout), ()))
        if plan.engine_env:
            for gpu_checks in (True, False):
                found.append((f"{host}-engine-install-{gpu_checks}.sh", "sh",
                              install_script(plan.engine_env, gpu_checks=gpu_checks), excluded("engine-install")))
            if plan.fanout and plan.fanout.python_set:
                found.append((f"{host}-engine-install-fanout.sh", "sh", install_script(
                    plan.engine_env, wheelhouse=plan.fanout.part_url(plan.fanout.python_part(plan.engine_env)),
                    uv_from=plan.fanout.part_url(plan.fanout.uv_part)), excluded("engine-install")))
        if plan.fanout and plan.fanout.fetches:
            found.append((f"{host}-fetch-packages.sh", "bash", fanout.fetch_script(plan), ()))
        if plan.amd:
            found.append((f"{host}-grub-amd.cfg", "sh", amd.grub_drop_in(plan.amd), excluded("grub")))
        for unit in node_unit_specs(plan):
            name = unit.name
            found.append((f"{host}-{name}-wait-ready.sh", "sh", service.wait_script(unit), ()))
            found += [(f"{host}-{name}-wait-or-roll-back.sh", "sh",
                       service.wait_script(unit, rollback_host=host, weights_changed=True), ()),
                      (f"{host}-{name}-wait-or-roll-back-weights.sh", "sh",
                       service.wait_script(unit, rollback_host=host, weights_changed=True,
                                           weights=model.restore_weights_functions(plan)), ()),
                      (f"{host}-{name}-keep-running.sh", "sh", service.keep_script(unit, "0" * 16), ()),
                      (f"{host}-{name}-restore-previous.sh", "sh", service.restore_script(unit), ()),
                      (f"{host}-{name}-restore-previous-weights.sh", "sh",
                       service.restore_script(unit, model.restore_weights_functions(plan)), ())]
            for path, (text, _) in rendered_files(unit).items():
                if path.endswith(".service"):
                    found += [(f"{host}-{Path(path).stem}-exec-{n}.sh", "bash", script, excluded("unit-exec"))
                              for n, script in enumerate(unit_shell_scripts(text))]
    return found


def shellcheck(directory: Path, scripts: list[tuple[str, str, str, tuple[str, ...]]]) -> list[str]:
    """shellcheck's findings (gcc format, one a line) for the scripts, written under `directory`."""
    findings = []
    groups: dict[tuple[str, tuple[str, ...]], list[Path]] = {}
    for name, shell, text, options in scripts:
        path = directory / name
        path.write_text(text)
        groups.setdefault((shell, options), []).append(path)
    for (shell, options), paths in groups.items():
        result = subprocess.run([SHELLCHECK, "-f", "gcc", "-S", SEVERITY, "-s", shell, *EVERYWHERE, *options,
                                 *map(str, paths)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 1), result.stderr
        findings += result.stdout.splitlines()
    return findings


@pytest.fixture(scope="module", autouse=True)
def need_shellcheck():
    assert SHELLCHECK, "shellcheck is missing: `make shellcheck` (Debian's package) installs it"


@pytest.mark.parametrize("label", RECIPES)
def test_every_shell_script_of_the_recipe_passes_shellcheck(label, tmp_path):
    scripts = recipe_scripts(label)
    assert any(shell == "bash" for _, shell, _, _ in scripts) or RECIPES[label].engine == "llama.cpp"
    findings = shellcheck(tmp_path, scripts)
    assert not findings, "\n".join(findings)


def test_static_shell_files_pass_shellcheck(tmp_path):
    scripts = [(path.name, "bash" if "bash" in path.read_text().split("\n", 1)[0] else "sh", path.read_text(), ())
               for path in REPO_ROOT.glob("roles/*/files/*.sh")]
    assert not shellcheck(tmp_path, scripts)


def test_a_shell_bug_is_found(tmp_path):
    """The check itself: a script with an unquoted test and a variable used before set is refused."""
    findings = shellcheck(tmp_path, [("bug.sh", "bash", 'if [ $x == "a" ]; then cd $dir; fi\n', ())])
    assert any("SC2154" in finding or "SC2164" in finding for finding in findings), findings


def test_the_units_bash_scripts_are_among_those_checked():
    """The RPC head's ExecStartPre waits for its workers in a `/bin/bash -c` script, read back from the unit."""
    names = [name for name, _, _, _ in recipe_scripts("glm-5.2-gguf/cpu/llama.cpp/rpc")]
    assert any("-llama-server-exec-" in name for name in names), names
