"""Resolving an engine environment with the uv the nodes run, for the environment's own target.

What the node's `uv pip install` is given (glmstack.config EngineEnvPlan, roles/engine) becomes one
`uv pip compile` with the same requirements, torch backend, indexes and source builds, for the
target's Python and platform. This machine reaches PyPI only. A piece that lives elsewhere is
resolved from a stand-in only where PyPI publishes what stands in (and the report says so); an
environment needing anything else that is out of reach is skipped, naming what could not be reached.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from glmstack.config import EngineEnvPlan, EnvTarget
from glmstack.uv import DEFAULT_INDEX, TORCH_BACKEND_INDEX, UV_PACKAGE

CACHE = Path(os.environ.get("GLMSTACK_RESOLVE_CACHE", Path.home() / ".cache" / "glmstack-resolve"))
UV = Path(sys.executable).parent / "uv"
# Each environment's outcome, for the session's report (conftest.py).
REPORT: dict[str, dict] = {}
# Hours an earlier resolution of the same inputs is reused for (0: always ask the index).
MAX_AGE_HOURS = float(os.environ.get("GLMSTACK_RESOLVE_MAX_AGE_HOURS", "24"))
KEY_PACKAGES = ("torch", "transformers", "xgrammar", "vllm", "sglang", "vllm-ascend", "torch-npu")


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[=<>!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@cache
def reachable(url: str) -> bool:
    """Whether the host answers at all (any HTTP status counts: it is there)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url.removeprefix("git+"), method="HEAD"), timeout=10)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


@dataclass
class Outcome:
    status: str  # "resolved", "conflict", "skipped"
    pins: dict[str, str] = field(default_factory=dict)
    stand_ins: list[str] = field(default_factory=list)
    message: str = ""  # uv's error (shortened), or why it was skipped
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)
    cached: bool = False  # taken from an earlier run's resolution of the very same inputs


def _uv_env() -> dict[str, str]:
    return {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv"), "NO_COLOR": "1"}


def _simple_files(name: str) -> list[dict]:
    request = urllib.request.Request(f"{DEFAULT_INDEX}/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["files"]


def pypi_sdist(name: str, version: str) -> Path:
    """The package's source distribution from PyPI, checked against the index's sha256 (cached)."""
    filename = f"{name}-{version}.tar.gz"
    target = CACHE / "sdists" / filename
    if target.is_file():
        return target
    entry = next((f for f in _simple_files(name) if f["filename"] == filename), None)
    if entry is None:
        raise LookupError(f"PyPI has no {filename}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with urllib.request.urlopen(entry["url"], timeout=600) as response, open(partial, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()
    if digest != entry["hashes"]["sha256"]:
        partial.unlink()
        raise ValueError(f"{filename}: sha256 {digest} is not the index's {entry['hashes']['sha256']}")
    partial.rename(target)
    return target


def _read_requirements(members: dict[str, str], directory: str, filename: str) -> list[str]:
    """vLLM's setup.py _read_requirements: -r includes, no comments, no option lines."""
    found = []
    for line in members[f"{directory}/{filename}"].strip().split("\n"):
        if line.startswith("-r "):
            found += _read_requirements(members, directory, line.split()[1])
        elif not line.startswith("--") and not line.startswith("#") and line.strip():
            found.append(line.split(" #")[0].strip())
    return found


def source_build_metadata(name: str, version: str, build_env: dict[str, str]) -> dict:
    """The metadata a source build gets on the node, read from PyPI's sdist (uv's dependency-metadata).

    Only vLLM built with VLLM_TARGET_DEVICE=empty is known: its setup.py then takes install_requires
    from requirements/common.txt alone (checked in the sdist, so a release that changes it fails here).
    """
    if name != "vllm" or build_env.get("VLLM_TARGET_DEVICE") != "empty":
        raise LookupError(f"no known metadata for a source build of {name} with {build_env}")
    root = f"{name}-{version}"
    with tarfile.open(pypi_sdist(name, version)) as sdist:
        members = {member.name: sdist.extractfile(member).read().decode()
                   for member in sdist.getmembers()
                   if member.isfile() and (member.name in (f"{root}/setup.py", f"{root}/PKG-INFO")
                                           or member.name.startswith(f"{root}/requirements/"))}
    rule = re.compile(r"if _no_device\(\):\s+requirements = _read_requirements\(\"common\.txt\"\)")
    if not rule.search(members[f"{root}/setup.py"]):
        raise LookupError(f"{root}/setup.py no longer takes common.txt for an empty target")
    requires_python = re.search(r"^Requires-Python: (.+)$", members[f"{root}/PKG-INFO"], re.M).group(1).strip()
    return {"name": name, "version": version, "requires-python": requires_python,
            "requires-dist": _read_requirements(members, f"{root}/requirements", "common.txt")}


def _shorten(stderr: str, limit: int = 14) -> str:
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("error", "×", "x "))), 0)
    kept = [line for line in lines[start:] if not line.lstrip().startswith(("hint:", "help:"))]
    return "\n".join(kept[:limit]) + ("\n..." if len(kept) > limit else "")


def resolve(env: EngineEnvPlan, target: EnvTarget) -> Outcome:
    """Resolve `env` for `target` as the node's uv would; skipped only for what cannot be reached."""
    unreachable, stand_ins, overrides, excludes, metadata = [], [], [], [], []
    args = ["--python-version", target.python, "--python-platform", target.platform]
    for requirement in env.requirements:
        if " @ " in requirement and not reachable(url := requirement.split(" @ ", 1)[1]):
            unreachable.append(f"{requirement_name(requirement)} from {url}")
    for url in env.extra_index_urls:
        if reachable(url):
            args += ["--extra-index-url", url]
        else:
            unreachable.append(f"extra index {url}")
    if env.torch_backend:
        index = TORCH_BACKEND_INDEX.format(backend=env.torch_backend)
        pins = [r for r in env.requirements if requirement_name(r) == "torch" and "==" in r]
        if reachable(index):
            args += ["--torch-backend", env.torch_backend]
        elif pins and not unreachable:
            # Same version from PyPI: the metadata of PyPI's build (a superset of the CPU build's).
            overrides.append(pins[0])
            stand_ins.append(f"{pins[0]} from PyPI stands in for its {env.torch_backend} build ({index} unreachable)")
        else:
            unreachable.append(f"torch backend index {index}")
    out_of_reach = {}  # index-only packages whose index is unreachable: PyPI's metadata, or left out
    for name, url in env.index_only:
        if url in env.extra_index_urls:
            continue
        if reachable(url):
            args += ["--extra-index-url", url]  # as the operator's index or extra index would serve it
        else:
            out_of_reach[name] = url
    if unreachable:
        return Outcome("skipped", message="unreachable from here: " + "; ".join(unreachable))
    for name in env.source_packages:
        pin = next(r for r in env.requirements if requirement_name(r) == name).split("==", 1)[1]
        try:
            metadata.append(source_build_metadata(name, pin, dict(env.build_env)))
        except LookupError as error:
            return Outcome("skipped", message=str(error))
        args += ["--no-binary", name]
        stand_ins.append(f"{name} {pin} built from PyPI's sdist ({' '.join(f'{k}={v}' for k, v in env.build_env)}):"
                         " install_requires read from it")
    # The same inputs resolved within MAX_AGE are not asked again (the index moves slowly; any change
    # to the catalog, the stand-ins or uv is a new key).
    key = hashlib.sha256(json.dumps([UV_PACKAGE, list(env.requirements), args, overrides, excludes, metadata,
                                     sorted(out_of_reach)], sort_keys=True).encode()).hexdigest()[:24]
    cached = CACHE / "outcomes" / f"{key}.json"
    if cached.is_file() and time.time() - cached.stat().st_mtime < MAX_AGE_HOURS * 3600:
        return Outcome(**{**json.loads(cached.read_text()), "seconds": 0.0, "cached": True})
    outcome = _compile(env, args, overrides, excludes, metadata, stand_ins)
    left_out = [name for name in out_of_reach if outcome.status == "conflict" and name in outcome.message]
    if left_out:  # PyPI lacks the version asked for: resolve the rest, and say what was left out
        stand_ins += [f"{name} not resolved: published only on {out_of_reach[name]} (unreachable)" for name in left_out]
        outcome = _compile(env, args, overrides, excludes + left_out, metadata, stand_ins)
    if outcome.status == "resolved":
        stand_ins += [f"{name} resolved from PyPI's metadata; its files come from {url} (unreachable here)"
                      for name, url in out_of_reach.items() if name not in left_out]
    outcome.stand_ins = list(stand_ins)
    if outcome.status != "conflict":  # a conflict is asked again on the next run
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(asdict(outcome)))
    return outcome


def _compile(env: EngineEnvPlan, args: list[str], overrides: list[str], excludes: list[str], metadata: list[dict],
             stand_ins: list[str]) -> Outcome:
    args = list(args)
    with tempfile.TemporaryDirectory(prefix="glmstack-resolve-") as work:
        work = Path(work)
        (work / "requirements.in").write_text("\n".join(env.requirements) + "\n")
        if overrides:
            (work / "overrides.txt").write_text("\n".join(overrides) + "\n")
            args += ["--overrides", str(work / "overrides.txt")]
        if excludes:
            (work / "excludes.txt").write_text("\n".join(excludes) + "\n")
            args += ["--excludes", str(work / "excludes.txt")]
        if metadata:
            (work / "uv.toml").write_text("".join(
                f"[[dependency-metadata]]\nname = {json.dumps(m['name'])}\nversion = {json.dumps(m['version'])}\n"
                f"requires-python = {json.dumps(m['requires-python'])}\n"
                f"requires-dist = {json.dumps(m['requires-dist'])}\n"
                for m in metadata))
            args += ["--config-file", str(work / "uv.toml")]
        command = [str(UV), "pip", "compile", "--quiet", "--no-header", "--no-annotate", *args,
                   str(work / "requirements.in"), "-o", str(work / "resolved.txt")]
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, env=_uv_env(), timeout=900)
        seconds = time.monotonic() - started
        shown = [str(UV.name), *command[1:]]
        if run.returncode != 0:
            return Outcome("conflict", stand_ins=stand_ins, message=_shorten(run.stderr), seconds=seconds,
                           command=shown)
        pins = {}
        for line in (work / "resolved.txt").read_text().splitlines():
            if "==" in line and not line.startswith(("#", " ")):
                name, version = line.split(";")[0].strip().split("==", 1)
                pins[name.lower()] = version.strip()
        return Outcome("resolved", pins=pins, stand_ins=stand_ins, seconds=seconds, command=shown)


KNOWS_MODEL_TYPE = """
import sys
from transformers import AutoConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
model_type = sys.argv[1]
if model_type not in CONFIG_MAPPING:
    sys.exit(f"transformers {__import__('transformers').__version__} has no model type {model_type!r}")
print(type(AutoConfig.for_model(model_type)).__name__)
"""


def transformers_knows(version: str, model_type: str) -> tuple[bool, str]:
    """Whether transformers `version`'s own registry builds a config for `model_type` (the verdict is
    cached; the wheel is installed once into its own environment under the cache)."""
    verdicts_file = CACHE / "transformers" / "verdicts.json"
    verdicts = json.loads(verdicts_file.read_text()) if verdicts_file.is_file() else {}
    key = f"{version}/{model_type}"
    if key not in verdicts:
        venv = CACHE / "transformers" / version
        python = venv / "bin" / "python"
        if not (venv / ".complete").is_file():
            subprocess.run([str(UV), "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
                           check=True, env=_uv_env(), capture_output=True)
            subprocess.run([str(UV), "pip", "install", "--quiet", "--python", str(python), f"transformers=={version}"],
                           check=True, env=_uv_env(), capture_output=True)
            (venv / ".complete").touch()
        run = subprocess.run([str(python), "-c", KNOWS_MODEL_TYPE, model_type], capture_output=True, text=True,
                             env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"}, timeout=300)
        verdict = (run.returncode == 0, (run.stdout.strip() or run.stderr.strip().splitlines()[-1]))
        verdicts[key] = verdict
        verdicts_file.parent.mkdir(parents=True, exist_ok=True)
        verdicts_file.write_text(json.dumps(verdicts, indent=1, sort_keys=True))
    ok, detail = verdicts[key]
    return ok, detail


def uv_is_the_nodes() -> bool:
    run = subprocess.run([str(UV), "--version"], capture_output=True, text=True)
    return run.returncode == 0 and run.stdout.split()[1] == UV_PACKAGE.split("==")[1]
