"""engine: a Python engine (vLLM, SGLang) in its own uv-made virtual environment, pinned and proven.

Each environment lives in a directory named by what it holds (engine, version, wheels) and is
marked complete only after it is proven (pinned version, version command, imports), so a host
never takes a half-built one for done. The unit points at that directory: a new pin is a new
unit, and the engine restarts on it.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.facts.files import FileContents

from glmstack.ascend import source_first_existing
from glmstack.ops import engine_python, ensure_packages
from glmstack.quoting import shell_word
from glmstack.uv import ensure_uv_commands, uv_binary

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from roles.engine.plan import EngineEnvPlan

MARKER = "GLMSTACK-INSTALL"


def marker_path(env: EngineEnvPlan) -> str:
    return posixpath.join(env.directory, MARKER)


def _python_check(env: EngineEnvPlan, directory: str, modules: tuple[str, ...]) -> str:
    imports = "; ".join(f"import {module}" for module in modules)
    return f"{shell_word(directory)}/bin/python -c {shell_word(imports)}"


def install_script(env: EngineEnvPlan, gpu_checks: bool = True, python: str = "python3") -> str:
    """Build the environment beside its final place, prove it, then move it in and mark it."""
    q = shell_word
    final = env.directory
    uv = q(uv_binary(env.prefix))
    python = env.python or python  # a platform that needs a given Python gets it from uv
    backend = f" --torch-backend {q(env.torch_backend)}" if env.torch_backend else ""
    backend += "".join(f" --extra-index-url {q(url)}" for url in env.extra_index_urls)
    distribution = env.engine.replace("-", "_")
    lines = [
        "set -eu",
        f"mkdir -p {q(posixpath.dirname(final))}",
        # A killed deploy can leave its install running: wait for it, and keep what it finished.
        f"exec 9>>{q(final)}.lock",
        "flock 9",
        f"if [ \"$(cat {q(marker_path(env))} 2>/dev/null)\" = {q(env.install_key)} ]; then exit 0; fi",
        *(f"export {name}={q(value)} {name.upper()}={q(value)}" for name, value in env.proxy_env),
        *ensure_uv_commands(env.prefix),
        # Built in its final place (virtual environments are not relocatable); without the
        # marker, written last, nothing treats it as installed and a rerun starts it over.
        f"rm -rf {q(final)}",
        f"{uv} venv --quiet --python {q(python)} {q(final)}",
        *(f"export {name}={q(value)}" for name, value in env.build_env),
        # The platform's libraries (CANN), for the checks below to import what links against them.
        *([f"set +u; {source_first_existing(env.source_files)}; set -u"] if env.source_files else []),
    ]
    install = f"{uv} pip install --quiet --python {q(final)}/bin/python{backend}"
    if env.source_packages:
        # What the source builds import (their build requirements, and the rest of the set with
        # its torch) goes in first: they are built against this environment, not an isolated one.
        lines.append(" ".join([install, *(q(requirement) for requirement in env.before_source_builds)]))
        install += "".join(f" --no-binary {q(name)} --no-build-isolation-package {q(name)}"
                           for name in env.source_packages)
    lines.append(" ".join([install, *(q(requirement) for requirement in env.requirements)]))
    if env.build is None:
        # The resolver may not quietly take another version than the pin.
        lines.append(f"{q(final)}/bin/python -c "
                     + q(f"import importlib.metadata as m; v = m.version({distribution!r}); "
                         f"assert v.split('+')[0] == {env.version!r}, f'installed {{v}}, pinned {env.version}'"))
    if env.version_check and (gpu_checks or not env.version_check_needs_gpu):
        lines.append(" ".join([q(posixpath.join(final, env.version_check[0])),
                               *(q(word) for word in env.version_check[1:])]))
    if env.imports:
        lines.append(_python_check(env, final, env.imports))
    if gpu_checks and env.gpu_imports:
        lines.append(_python_check(env, final, env.gpu_imports))
    lines += [f"chmod -R go-w {q(final)}",
              f"printf '%s\\n' {q(env.install_key)} > {q(marker_path(env))}"]
    return "\n".join(lines)


@operation()
def install_environment(env: EngineEnvPlan, gpu_checks: bool = True):
    """Install the engine's environment unless its marker records exactly this one."""
    if host.get_fact(FileContents, path=marker_path(env)) == [env.install_key]:
        host.noop(f"{env.label} is installed in {env.directory}")
        return
    yield install_script(env, gpu_checks=gpu_checks, python=engine_python())


@deploy("glmstack engine")
def install_engine(env: EngineEnvPlan, gpu_checks: bool = True) -> None:
    ensure_packages("Engine runtime packages", env.system_packages)
    install_environment(name=f"Install {env.label}", env=env, gpu_checks=gpu_checks)
