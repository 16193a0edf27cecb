"""Installed from a wheel, glmstack plans, renders and deploys: its templates, static files, catalog
and deploy files are inside the package, found from it, never from a checkout or the cwd.

The wheel is built from a copy of this checkout (pip wheel) and installed into a fresh virtual
environment whose dependencies are the project venv's (a path line, so the project's editable
glmstack is not seen); the commands run from a directory outside the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from glmstack.paths import REPO_ROOT

# Folders of host files in the roles (glob: the roles' set of templates changes as they do).
SHIPPED = ("roles/*/templates/*", "roles/*/files/*", "glmstack/templates/*", "glmstack/catalog/*.yaml",
           "glmstack/lab/probes/*.py")


def _run(command: list[str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}: exit {result.returncode}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, its site-packages, a working directory outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    # pip builds in the source tree (build/, *.egg-info): a copy keeps the checkout clean.
    shutil.copytree(REPO_ROOT, source, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "build", "*.egg-info", ".ruff_cache",
                                                  ".pytest_cache"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"), str(source)], root,
         timeout=300)
    wheel = next((root / "dist").glob("glmstack-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root)
                .stdout.strip())
    # The project venv's dependencies, after the wheel's own files; its .pth files (the editable
    # glmstack's finder among them) are not read from a path line.
    (site / "zz-project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], root)
    work = root / "work"
    work.mkdir()
    return venv, site, work


def test_the_wheel_is_what_runs(installed):
    venv, site, work = installed
    where = _run([str(venv / "bin/python"), "-c", "import glmstack, roles; print(glmstack.__file__, roles.__file__)"],
                 work).stdout.split()
    assert all(Path(path).is_relative_to(site) for path in where), where


def test_every_host_file_of_the_checkout_is_in_the_package(installed):
    _, site, _ = installed
    shipped = sorted(str(path.relative_to(REPO_ROOT)) for pattern in SHIPPED for path in REPO_ROOT.glob(pattern)
                     if path.is_file() and "__pycache__" not in path.parts)
    assert any(name.endswith(".j2") for name in shipped)
    missing = [name for name in shipped if not (site / name).is_file()]
    assert not missing, f"not in the installed package: {missing}"


def test_every_template_the_code_names_is_installed(installed):
    _, site, _ = installed
    named = {name for path in [*REPO_ROOT.glob("glmstack/**/*.py"), *REPO_ROOT.glob("roles/**/*.py")]
             for name in re.findall(r"get_template\(\s*[\"']([^\"']+)[\"']", path.read_text())}
    assert named, "no get_template calls found"
    installed_templates = {path.name for path in site.glob("**/templates/*") if path.is_file()}
    assert not named - installed_templates, f"named in the code, not installed: {sorted(named - installed_templates)}"


def test_glmstack_deploy_runs_the_installed_deploy_file(installed):
    venv, site, work = installed
    deploy = _run([str(venv / "bin/python"), "-c",
                   "from pathlib import Path; from glmstack.planning import pyinfra_command; "
                   "print(pyinfra_command(Path('x.py'))[-1])"], work).stdout.strip()
    assert Path(deploy).is_relative_to(site) and Path(deploy).is_file(), deploy


def test_plan_and_render_a_shipped_inventory_from_elsewhere(installed):
    venv, _, work = installed
    inventory = work / "h200.py"
    shutil.copy(REPO_ROOT / "inventory/h200.py", inventory)
    plan = _run([str(venv / "bin/glmstack"), "plan", str(inventory)], work)
    assert "h200-1.lab.example" in plan.stdout + plan.stderr  # rich prints the plan on stderr
    out = work / "rendered"
    _run([str(venv / "bin/glmstack"), "render", str(inventory), "h200-1.lab.example", "--out", str(out)], work)
    unit = out / "etc/systemd/system/vllm.service"
    assert unit.is_file() and "ExecStart=" in unit.read_text()


def test_the_deploy_runs_from_the_wheel_on_a_fake_host(installed):
    """deploys/glm52.py, loaded from the installed package, runs to its end on a @fake converged CPU host."""
    venv, site, work = installed
    plan_tests = REPO_ROOT / "tests/plan"
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        sys.path.insert(0, {str(plan_tests)!r})
        from fakehost import run_deploy
        from plan_data import PLAN_DATA
        import glmstack.paths
        assert Path(glmstack.paths.DEPLOYS).is_relative_to({str(site)!r}), glmstack.paths.DEPLOYS
        responses = json.loads(Path({str(plan_tests / "facts/debian12-converged.json")!r}).read_text())["responses"]
        run = run_deploy(PLAN_DATA, responses)
        assert run.error is None and not run.failed, (run.error, run.failed)
        print(len(run.commands), "commands")
    """)
    result = _run([str(venv / "bin/python"), "-c", script], work)
    assert "commands" in result.stdout
