"""The engines' own code for the conformance tier, built once and cached by pin.

Everything lives under ~/.cache/glmstack-conformance (GLMSTACK_CONFORMANCE_CACHE overrides it),
each environment in a directory named by what it holds, so a rerun finds it and a new pin builds
beside it:

- vLLM: a virtual environment of the real wheels, the very requirements the catalog installs on a
  Ray head (the engine and its pinned Ray: Ray's units run from the engine's environment), plus
  the stub NVIDIA driver libraries (stub_driver.c) that let vLLM infer its CUDA platform here.
- vLLM-Ascend: its wheel's Python sources, unpacked, not installed (its platform needs torch-npu
  and CANN): read for its environment variables and its parser hook.
- SGLang: the real sglang wheel without its dependencies (0.5.21 pins cuda-tile, which only
  pypi.nvidia.com serves), plus what `sglang.srt.server_args` imports, at SGLang's own pins.
- llama.cpp: the pinned tree (the lab's llamacpp_source: the llama-cpp-python sdist, checked to be
  the catalog's commit), built with cmake for two targets only (llamacpp/CMakeLists.txt).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from glmstack.catalog import load_catalog
from glmstack.config import EngineEnvPlan
from glmstack.once import build_once
from glmstack.uv import UV_PACKAGE

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("GLMSTACK_CONFORMANCE_CACHE", Path.home() / ".cache" / "glmstack-conformance"))

# What `import sglang.srt.server_args` needs (found by importing it in an environment of the
# sglang wheel alone), pinned where SGLang 0.5.21's own metadata pins them.
SGLANG_IMPORTS = ["torch==2.13.0", "transformers==5.12.1", "msgspec", "numpy", "psutil", "requests", "pydantic",
                  "orjson", "pybase64", "packaging", "pillow", "fastapi", "pyzmq>=25.1.2", "IPython", "aiohttp"]


class BuildError(RuntimeError):
    pass


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


def _run(command: list[str], log: Path, **kwargs) -> None:
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        raise BuildError(f"{' '.join(command[:4])} ... failed ({result.returncode}); {log}:\n" + "\n".join(tail))


def uv() -> Path:
    """The pinned uv the nodes use (glmstack.uv), in a tools environment of the cache."""
    tools = CACHE / f"tools-{UV_PACKAGE.replace('==', '-')}"

    def build(directory: Path) -> None:
        _run([sys.executable, "-m", "venv", str(directory)], directory / "build.log")
        _run([str(directory / "bin" / "pip"), "install", "--quiet", UV_PACKAGE], directory / "build.log")

    return build_once(tools, build) / "bin" / "uv"


def _uv_env() -> dict[str, str]:
    return {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv-cache"), "UV_NATIVE_TLS": "1"}


def _venv(directory: Path) -> None:
    # The Python running the tests (>= 3.11, as on the nodes); uv never downloads one.
    _run([str(uv()), "venv", "--quiet", "--python", sys.executable, str(directory / "venv")],
         directory / "build.log", env=_uv_env())


def _install(directory: Path, requirements: list[str], *options: str) -> None:
    _run([str(uv()), "pip", "install", "--quiet", "--python", str(directory / "venv" / "bin" / "python"),
          *options, *requirements], directory / "build.log", env=_uv_env())


@dataclass(frozen=True)
class VllmEnv:
    python: Path
    stub_libs: Path  # LD_LIBRARY_PATH for vLLM's CUDA platform on a machine without a GPU
    ascend_src: Path  # vllm_ascend's Python sources (not importable as a platform here)
    ascend_version: str


def vllm(engine_env: EngineEnvPlan) -> VllmEnv:
    """vLLM as the catalog installs it (engine_env: a Ray head's, with Ray), the stub driver beside it."""
    requirements = list(engine_env.requirements)
    options = [f"--extra-index-url={url}" for url in engine_env.extra_index_urls]
    if engine_env.torch_backend:
        options.append(f"--torch-backend={engine_env.torch_backend}")
    name = f"vllm-{engine_env.version}-{_key(*requirements, *options, sys.version)}"

    def build(directory: Path) -> None:
        _venv(directory)
        _install(directory, requirements, *options)

    directory = build_once(CACHE / name, build)
    stub = build_once(CACHE / f"stub-driver-{_key((HERE / 'stub_driver.c').read_text())}", _build_stub)
    ascend_version = load_catalog().engines["vllm-ascend"].version
    return VllmEnv(directory / "venv" / "bin" / "python", stub, vllm_ascend_source(ascend_version), ascend_version)


def _build_stub(directory: Path) -> None:
    for library in ("libnvidia-ml.so.1", "libcuda.so.1"):
        _run(["cc", "-shared", "-fPIC", "-O2", "-o", str(directory / library), str(HERE / "stub_driver.c")],
             directory / "build.log")


def vllm_ascend_source(version: str) -> Path:
    """vllm_ascend's Python files from its wheel on the package index (any Python's: only read)."""
    def build(directory: Path) -> None:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
              "--dest", str(directory / "dl"), f"vllm-ascend=={version}"], directory / "build.log")
        wheel = next((directory / "dl").glob("vllm_ascend-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(directory / "src", [n for n in archive.namelist()
                                                   if n.startswith("vllm_ascend/") and n.endswith(".py")])
        shutil.rmtree(directory / "dl")

    return build_once(CACHE / f"vllm-ascend-{version}-src", build) / "src"


def sglang(engine_env: EngineEnvPlan) -> Path:
    """SGLang's wheel (the catalog's requirement) without its dependencies, and what its ServerArgs imports."""
    requirements = list(engine_env.requirements)
    name = f"sglang-{engine_env.version}-{_key(*requirements, *SGLANG_IMPORTS, sys.version)}"

    def build(directory: Path) -> None:
        _venv(directory)
        _install(directory, requirements, "--no-deps")
        _install(directory, SGLANG_IMPORTS)

    return build_once(CACHE / name, build) / "venv" / "bin" / "python"


@dataclass(frozen=True)
class LlamaCpp:
    parse_args: Path  # llama-server's own parser (llamacpp/parse_args.cpp)
    rpc_server: Path  # ggml-rpc-server


def llamacpp(version: str) -> LlamaCpp:
    """The pinned tree, unpacked from the lab's source tarball, configured once (keyed by the pin and
    llamacpp/CMakeLists.txt) and its two targets built; cmake rebuilds what changed since."""
    from glmstack.lab.artifacts import llamacpp_source

    configuration = _key((HERE / "llamacpp" / "CMakeLists.txt").read_text())

    def project(directory: Path) -> Path:
        """The cmake project, copied beside its build: the cache serves any checkout."""
        copy = directory / "project"
        copy.mkdir(exist_ok=True)
        for name in ("CMakeLists.txt", "parse_args.cpp"):
            text = (HERE / "llamacpp" / name).read_text()
            if not (copy / name).exists() or (copy / name).read_text() != text:
                (copy / name).write_text(text)  # only when changed: cmake rebuilds by time stamps
        return copy

    def configure(directory: Path) -> None:
        tarball, _ = llamacpp_source(CACHE / "llamacpp-source")
        with tarfile.open(tarball) as archive:
            archive.extractall(directory, filter="data")
        (source,) = [path for path in directory.iterdir() if path.is_dir()]
        source = source.rename(directory / "llama.cpp")
        launcher = ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache", "-DCMAKE_C_COMPILER_LAUNCHER=ccache"] \
            if shutil.which("ccache") else []
        _run(["cmake", "-S", str(project(directory)), "-B", str(directory / "build"), f"-DLLAMA_SOURCE={source}",
              "-DCMAKE_BUILD_TYPE=Release", *launcher], directory / "build.log")

    directory = build_once(CACHE / f"llama.cpp-{version[:12]}-{configuration}", configure)
    project(directory)
    _run(["cmake", "--build", str(directory / "build"), "--parallel", str(os.cpu_count() or 2),
          "--target", "llama-parse-args", "ggml-rpc-server"], directory / "build.log")
    built = directory / "build"
    return LlamaCpp(_find(built, "llama-parse-args"), _find(built, "ggml-rpc-server"))


def _find(root: Path, name: str) -> Path:
    for path in root.rglob(name):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise BuildError(f"{name} not built under {root}")
