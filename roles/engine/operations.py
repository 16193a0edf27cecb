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
from glmstack.ops import engine_python, install_step
from glmstack.os_packages import engine_step
from glmstack.quoting import shell_word
from glmstack.templating import role_templates
from glmstack.uv import ensure_uv_commands, uv_binary
from roles.model.fanout_wait import wait_for_part

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from roles.engine.plan import EngineEnvPlan
    from roles.model.fanout import FanoutPlan

MARKER = "GLMSTACK-INSTALL"
# What the role runs on a host: templates/ in its folder.
_templates = role_templates(__file__)


def marker_path(env: EngineEnvPlan) -> str:
    return posixpath.join(env.directory, MARKER)


def install_script(env: EngineEnvPlan, gpu_checks: bool = True, python: str = "python3",
                   wheelhouse: str | None = None, uv_from: str | None = None) -> str:
    """Build the environment beside its final place, prove it, then move it in and mark it
    (templates/install-environment.sh.j2). `wheelhouse`, `uv_from`: the URLs of the environment's
    wheels and uv's, served by the host passing the weights on (roles/model/fanout.py)."""
    final = env.directory
    version_check = env.version_check and (gpu_checks or not env.version_check_needs_gpu)
    return _templates.get_template("install-environment.sh.j2").render(
        final=final, final_parent=posixpath.dirname(final), marker=marker_path(env), install_key=env.install_key,
        proxy_env=env.proxy_env, uv_commands=ensure_uv_commands(env.prefix, env.bundle_dir, uv_from),
        uv=shell_word(uv_binary(env.prefix)),
        bundle_python=posixpath.join(env.bundle_dir, "python") if env.bundle_dir else None,
        python=env.python or python,  # a platform that needs a given Python gets it from uv
        build_env=env.build_env,
        source_platform=source_first_existing(env.source_files) if env.source_files else "",
        torch_backend=env.torch_backend, extra_index_urls=env.extra_index_urls,
        source_packages=env.source_packages, before_source_builds=env.before_source_builds,
        requirements=env.requirements, wheelhouse=wheelhouse,
        check_pin=env.build is None, distribution=env.engine.replace("-", "_"), version=env.version,
        version_check=[posixpath.join(final, env.version_check[0]), *env.version_check[1:]] if version_check else [],
        import_checks=[modules for modules in (env.imports, env.gpu_imports if gpu_checks else ()) if modules])


def is_installed(env: EngineEnvPlan) -> bool:
    return host.get_fact(FileContents, path=marker_path(env)) == [env.install_key]


@operation()
def install_environment(env: EngineEnvPlan, gpu_checks: bool = True, fanout: FanoutPlan | None = None):
    """Install the engine's environment unless its marker records exactly this one; `fanout`: from
    the wheels the host passing the weights on serves."""
    if is_installed(env):
        host.noop(f"{env.label} is installed in {env.directory}")
        return
    wheelhouse = fanout.part_url(fanout.python_part(env)) if fanout else None
    yield install_script(env, gpu_checks=gpu_checks, python=engine_python(), wheelhouse=wheelhouse,
                         uv_from=fanout.part_url(fanout.uv_part) if fanout else None)


@deploy("glmstack engine")
def install_engine(env: EngineEnvPlan, gpu_checks: bool = True, fanout: FanoutPlan | None = None) -> None:
    """`fanout`: the host's downloads come from the host passing the weights on (roles/model/fanout.py)."""
    install_step(engine_step(env))
    if fanout is not None and fanout.python_set != env:
        fanout = None  # an environment of its own: from the index
    if fanout is not None and not is_installed(env):
        wait_for_part(name=f"Wait for the packages of {env.label} from {fanout.seed_host}", fanout=fanout,
                      parts=(fanout.uv_part, fanout.python_part(env)))
    install_environment(name=f"Install {env.label}", env=env, gpu_checks=gpu_checks, fanout=fanout)
