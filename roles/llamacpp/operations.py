"""llamacpp: build llama-server from a pinned llama.cpp source, once per version and flags."""

from __future__ import annotations

import dataclasses
import posixpath
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.facts.files import File, FileContents
from pyinfra.operations import files

from glmstack.ops import install_step
from glmstack.os_packages import package_step
from glmstack.templating import role_templates
from roles.model.fanout import SOURCE_FILE
from roles.model.fanout_wait import wait_for_part

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan
    from roles.llamacpp.plan import LlamaCppPlan
    from roles.model.fanout import FanoutPlan

# What the role runs on a host: templates/ in its folder.
_templates = role_templates(__file__)
# Flags every build gets: a self-contained static binary, no network client, only the server.
COMMON_CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)


def build_info(plan: LlamaCppPlan) -> str:
    """Written beside the binary when a build completes; a matching file means nothing to do."""
    return f"version={plan.version} backend={plan.backend} flags={' '.join(plan.cmake_flags)}"


def uploaded_source_path(plan: LlamaCppPlan) -> str:
    return posixpath.join(plan.prefix, "build", f"{plan.build_key}.src.tar.gz")


def is_built(plan: LlamaCppPlan) -> bool:
    binary = host.get_fact(File, path=posixpath.join(plan.install_dir, "bin/llama-server"))
    info = host.get_fact(FileContents, path=posixpath.join(plan.install_dir, "BUILD-INFO"))
    return bool(binary) and info == [build_info(plan)]


def build_script(plan: LlamaCppPlan, fanout: FanoutPlan | None = None) -> str:
    """One shell script: fetch, configure, build, smoke-test, then move into place atomically
    (templates/build-llama-server.sh.j2). `fanout`: the source from the host passing the weights on
    (roles/model/fanout.py), checked against the sum it was fetched with there."""
    work = posixpath.join(plan.prefix, "build", plan.build_key)
    partial = f"{plan.install_dir}.partial"
    sha256_url = None
    if fanout is not None and fanout.llamacpp is not None:
        part = fanout.part_url(fanout.llamacpp.part)
        plan = dataclasses.replace(plan, source_kind="url", source=f"{part}/{SOURCE_FILE}")
        sha256_url = None if plan.source_sha256 else f"{part}/sha256"
    return _templates.get_template("build-llama-server.sh.j2").render(sha256_url=sha256_url,
        work=work, work_parent=posixpath.dirname(work), src=f"{work}/src", build=f"{work}/build", partial=partial,
        install_dir=plan.install_dir, info_file=f"{plan.install_dir}/BUILD-INFO", info=build_info(plan),
        ccache_dir=plan.ccache_dir, source_kind=plan.source_kind, source=plan.source, version=plan.version,
        tarball={"url": f"{work}/src.tar.gz", "bundle": plan.source}.get(plan.source_kind, uploaded_source_path(plan)),
        source_sha256=plan.source_sha256, flags=(*COMMON_CMAKE_FLAGS, *plan.cmake_flags),
        binaries=("llama-server", *plan.extra_binaries),
        jobs=plan.build_jobs)  # none: every core the host has


@operation()
def build_llama_server(plan: LlamaCppPlan, fanout: FanoutPlan | None = None):
    """Build llama-server unless this exact version and flag set is already installed."""
    if is_built(plan):
        host.noop(f"llama-server {plan.build_key} is already built")
        return
    yield build_script(plan, fanout)


@deploy("glmstack llama.cpp")
def install_llamacpp(plan: DeployPlan) -> None:
    llamacpp = plan.llamacpp
    assert llamacpp is not None
    fanout = plan.fanout if plan.fanout and plan.fanout.llamacpp else None
    install_step(package_step(plan, "llamacpp"))
    built = is_built(llamacpp)
    if fanout is not None and not built:
        wait_for_part(name=f"Wait for llama.cpp's source from {fanout.seed_host}", fanout=fanout,
                      parts=(fanout.llamacpp.part,))
    elif llamacpp.source_kind == "local" and not built:
        files.put(name="Upload llama.cpp source", src=llamacpp.source, dest=uploaded_source_path(llamacpp),
                  mode="600", create_remote_dir=True)
    build_llama_server(name=f"Build llama-server {llamacpp.build_key}", plan=llamacpp, fanout=fanout)
