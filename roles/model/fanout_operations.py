"""Once per lab: the host passing the weights on fetches the rest of the deployment's downloads (uv,
the engine environments' wheels with their hash locks, llama.cpp's source) and serves them; every
host of the group installs from it (roles/model/fanout.py says what and where)."""

from __future__ import annotations

import posixpath
from io import StringIO
from typing import TYPE_CHECKING

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.facts.files import File, FileContents
from pyinfra.operations import files, server

from glmstack.ops import CURL_DOWNLOAD, install_step
from glmstack.os_packages import package_step
from glmstack.quoting import exec_word, shell_word, unit_setting
from glmstack.templating import role_templates
from glmstack.uv import UV_PACKAGE, ensure_uv_commands, uv_binary, uv_pip
from roles.engine.operations import marker_path
from roles.llamacpp.operations import build_info
from roles.model.fanout import FAILED, LOCK_FILE, PACKAGES_UNIT, READY, SHARE_UNIT, SOURCE_FILE

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan
    from roles.engine.plan import EngineEnvPlan
    from roles.llamacpp.plan import LlamaCppPlan
    from roles.model.fanout import FanoutPlan

_templates = role_templates(__file__)
_templates.filters.update(unit_text=unit_setting, unit_word=exec_word, sh=shell_word)

# uv's own --torch-backend, for pip's download: PyTorch's index of that backend.
TORCH_BACKEND_INDEX = "https://download.pytorch.org/whl/{backend}"


def packages_script(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_prefix, "lib", "fetch-packages.sh")


def _python_set(fanout: FanoutPlan, env: EngineEnvPlan) -> dict:
    """One engine environment as the fetch script makes its wheelhouse: uv resolves it (with the
    options the install would take), pip downloads exactly the lock's files."""
    compile_options, download_options = [], []
    if env.torch_backend:
        compile_options += ["--torch-backend", env.torch_backend]
        download_options += ["--extra-index-url", TORCH_BACKEND_INDEX.format(backend=env.torch_backend)]
    for url in env.extra_index_urls:
        compile_options += ["--extra-index-url", url]
        download_options += ["--extra-index-url", url]
    return {"label": env.label, "part": fanout.python_part(env), "python": env.python,
            "requirements": env.requirements, "compile_options": compile_options,
            "download_options": download_options}


def fetch_script(plan: DeployPlan) -> str:
    """The packages unit's script (templates/fetch-packages.sh.j2)."""
    fanout = plan.fanout
    assert fanout is not None and fanout.fetches
    prefix = plan.config.base_prefix
    config = plan.config
    proxies = [(name, value) for name, value in (("http_proxy", config.base_http_proxy),
                                                 ("https_proxy", config.base_https_proxy),
                                                 ("no_proxy", config.base_no_proxy)) if value]
    return _templates.get_template("fetch-packages.sh.j2").render(
        peers=[name for name, _ in fanout.peers], unit=PACKAGES_UNIT, share=SHARE_UNIT, root=fanout.root,
        failed=FAILED, ready=READY, lock=LOCK_FILE, source_file=SOURCE_FILE, proxy_env=proxies,
        uv_package=UV_PACKAGE, uv_commands=ensure_uv_commands(prefix), uv=uv_binary(prefix), pip=uv_pip(prefix),
        uv_part=fanout.uv_part if fanout.python_sets else None, llamacpp=fanout.llamacpp_sources,
        python_sets=[_python_set(fanout, env) for env in fanout.python_sets], curl_download=CURL_DOWNLOAD)


def unit_text(plan: DeployPlan) -> str:
    assert plan.fanout is not None
    return _templates.get_template("packages.service.j2").render(
        peers=[name for name, _ in plan.fanout.peers], script=packages_script(plan))


def share_unit_text(plan: DeployPlan) -> str:
    fanout = plan.fanout
    assert fanout is not None
    return _templates.get_template("packages-share.service.j2").render(
        peers=[name for name, _ in fanout.peers], user=plan.config.base_service_user,
        group=plan.config.base_service_group, address=fanout.seed_address, directory=fanout.root, port=fanout.port,
        writable=[], remove_ipc=False)


def _needs(member, env: EngineEnvPlan | None, llamacpp: LlamaCppPlan | None) -> bool:
    """Whether a host of the group (its facts, read now) installs something from the packages."""
    if env is not None and member.get_fact(FileContents, path=marker_path(env)) != [env.install_key]:
        return True
    if llamacpp is not None:
        binary = member.get_fact(File, path=posixpath.join(llamacpp.install_dir, "bin/llama-server"))
        info = member.get_fact(FileContents, path=posixpath.join(llamacpp.install_dir, "BUILD-INFO"))
        return not (binary and info == [build_info(llamacpp)])
    return False


def hosts_needing(fanout: FanoutPlan) -> list[str]:
    """The hosts of the group (the fetching one first) that install something from the packages."""
    return [name for name, env, llamacpp in fanout.members
            if _needs(host if name == host.name else inventory.get_host(name), env, llamacpp)]


def _part_ready(fanout: FanoutPlan, part: str) -> bool:
    return bool(host.get_fact(File, path=posixpath.join(fanout.root, part, READY)))


@deploy("glmstack model")
def start_fetching(plan: DeployPlan) -> bool:
    """On the host passing the weights on, early in the deploy: fetch the packages for the hosts
    that need them (in the background, a unit of its own) and serve them as they arrive. True when it
    does (finish_serving stops the server)."""
    fanout = plan.fanout
    if fanout is None or not fanout.fetches:
        return False
    needing = hosts_needing(fanout)
    if not needing:
        host.noop(f"no host of {plan.host}'s group needs packages from it")
        return False
    # Before any host waits for them: an earlier run's server (and its failure) goes away.
    server.shell(name="Stop serving the packages of an earlier run",
                 commands=[f"systemctl stop {SHARE_UNIT} 2>/dev/null || true"])
    if any(source.kind == "git" for source in fanout.llamacpp_sources):
        install_step(package_step(plan, "fanout-git"))
    for source in fanout.llamacpp_sources:
        if source.kind == "local" and not _part_ready(fanout, source.part):
            files.put(name="Upload llama.cpp source (once, for the group)", src=source.source,
                      dest=posixpath.join(fanout.root, f"{source.part}.upload"), mode="600", create_remote_dir=True)
    files.put(name="Packages fetch script", src=StringIO(fetch_script(plan)), dest=packages_script(plan),
              user="root", group="root", mode="700", create_remote_dir=True)
    files.put(name="Packages unit", src=StringIO(unit_text(plan)), dest=f"/etc/systemd/system/{PACKAGES_UNIT}",
              user="root", group="root", mode="644")
    files.put(name="Packages sharing unit", src=StringIO(share_unit_text(plan)),
              dest=f"/etc/systemd/system/{SHARE_UNIT}", user="root", group="root", mode="644")
    server.shell(name=f"Fetch the packages once for {', '.join(needing)}",
                 commands=[f"systemctl daemon-reload && systemctl reset-failed {PACKAGES_UNIT} 2>/dev/null; "
                           f"systemctl start --no-block {PACKAGES_UNIT}"])
    return True


@deploy("glmstack model")
def finish_serving(plan: DeployPlan, serving: bool) -> None:
    """After every host of the group installed: the server stops."""
    if serving:
        server.shell(name="Stop serving the packages", commands=[f"systemctl stop {SHARE_UNIT}"])
