"""llamacpp: build llama-server from a pinned llama.cpp source, once per version and flags."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.facts.files import File, FileContents
from pyinfra.operations import files

from glmstack.ops import ensure_packages
from glmstack.quoting import shell_word

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan
    from roles.llamacpp.plan import LlamaCppPlan

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


def _fetch_source_commands(plan: LlamaCppPlan, src: str) -> list[str]:
    q = shell_word
    if plan.source_kind == "git":
        return [
            f"git -C {q(src)} init -q",
            f"git -C {q(src)} fetch -q --depth 1 {q(plan.source)} {q(plan.version)}",
            f"git -C {q(src)} checkout -q FETCH_HEAD",
        ]
    if plan.source_kind == "url":
        tarball = f"{src}.tar.gz"
        fetch = [f"curl -fsSL --retry 3 -o {q(tarball)} {q(plan.source)}"]
    else:
        tarball = uploaded_source_path(plan)
        fetch = []
    if plan.source_sha256:
        fetch.append(f"echo {q(plan.source_sha256 + '  ' + tarball)} | sha256sum -c --quiet -")
    return fetch + [f"tar -xzf {q(tarball)} -C {q(src)} --strip-components=1", f"rm -f {q(tarball)}"]


def build_script(plan: LlamaCppPlan) -> str:
    """One shell script: fetch, configure, build, smoke-test, then move into place atomically."""
    q = shell_word
    work = posixpath.join(plan.prefix, "build", plan.build_key)
    src, build = f"{work}/src", f"{work}/build"
    partial = f"{plan.install_dir}.partial"
    jobs = str(plan.build_jobs) if plan.build_jobs else "$(nproc)"
    flags = " ".join(q(flag) for flag in (*COMMON_CMAKE_FLAGS, *plan.cmake_flags))
    info_file = f"{plan.install_dir}/BUILD-INFO"
    lines = [
        "set -eu",
        f"mkdir -p {q(posixpath.dirname(work))}",
        # A killed deploy can leave its build running on the host (no terminal, so no hangup):
        # wait for it, and stop here if it finished the job.
        f"exec 9>>{q(work + '.lock')}",
        "flock 9",
        f"echo $$ > {q(work + '.lock')}",
        f'if [ "$(cat {q(info_file)} 2>/dev/null)" = {q(build_info(plan))} ]; then exit 0; fi',
    ]
    if plan.ccache_dir:
        lines += [f"mkdir -p {q(plan.ccache_dir)}", f"export CCACHE_DIR={q(plan.ccache_dir)}"]
    lines += [
        # Leftovers of an interrupted build are discarded, never resumed half-way.
        f"rm -rf {q(work)} {q(partial)}",
        f"mkdir -p {q(src)} {q(partial)}/bin",
        *_fetch_source_commands(plan, src),
        f"cmake -S {q(src)} -B {q(build)} {flags}",
        f"cmake --build {q(build)} --target {' '.join(q(b) for b in ('llama-server', *plan.extra_binaries))} -j {jobs}",
        *(f"install -m 755 {q(build)}/bin/{q(binary)} {q(partial)}/bin/{q(binary)}"
          for binary in ("llama-server", *plan.extra_binaries)),
        f"{q(partial)}/bin/llama-server --version",
        f"printf '%s\\n' {q(build_info(plan))} > {q(partial)}/BUILD-INFO",
        f"rm -rf {q(plan.install_dir)}",
        f"mv {q(partial)} {q(plan.install_dir)}",
        f"rm -rf {q(work)}",
    ]
    return "\n".join(lines)


@operation()
def build_llama_server(plan: LlamaCppPlan):
    """Build llama-server unless this exact version and flag set is already installed."""
    if is_built(plan):
        host.noop(f"llama-server {plan.build_key} is already built")
        return
    yield build_script(plan)


@deploy("glmstack llama.cpp")
def install_llamacpp(plan: DeployPlan) -> None:
    llamacpp = plan.llamacpp
    assert llamacpp is not None
    ensure_packages("llama.cpp build packages", llamacpp.build_packages)
    built = is_built(llamacpp)
    if llamacpp.source_kind == "local" and not built:
        files.put(name="Upload llama.cpp source", src=llamacpp.source, dest=uploaded_source_path(llamacpp),
                  mode="600", create_remote_dir=True)
    build_llama_server(name=f"Build llama-server {llamacpp.build_key}", plan=llamacpp)
