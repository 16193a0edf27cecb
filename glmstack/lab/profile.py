"""The lab's CPU profile: GLM-5.2's llama.cpp recipe, served with a tiny stand-in model.

Shared by `make demo` and the end-to-end tests, so both deploy exactly the same thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmstack.digests import sha256_of
from glmstack.lab.artifacts import (
    glm_chat_template,
    llamacpp_source,
    model_chat_template,
    write_gpt2_tokenizer,
    write_tiny_model,
)
from glmstack.lab.lab import LabPaths
from glmstack.lab.network import GATEWAY
from glmstack.paths import REPO_ROOT
from glmstack.planning import pyinfra_command

# Fixed so the model's source (and so its fingerprint) is the same on every run.
MODEL_PORT = 8099
TINY_MODEL = "glm-5.2-tiny-test.gguf"
SERVED_MODEL_NAME = "glm-5.2-tiny-test"


def models_dir(paths: LabPaths) -> Path:
    # Its own directory since the stand-in carries GLM's chat template: a checkout from before
    # keeps its model (without one) in "models", and neither replaces the other's.
    return paths.cache_dir / "models-glm-template"


def cpu_profile_data(paths: LabPaths, gateway: bool = True) -> dict[str, Any]:
    """Host data for the lab nodes; builds the source tarball and the tiny model on first use.
    gateway=False: the engine serves the network itself (tests about the engine alone)."""
    tarball, vocab = llamacpp_source(paths.cache_dir)
    template = glm_chat_template(paths.cache_dir)
    model = models_dir(paths) / TINY_MODEL
    # Made again when the one in the cache predates the template it must carry.
    if not model.exists() or model_chat_template(model) != template:
        model.parent.mkdir(parents=True, exist_ok=True)
        write_tiny_model(model.with_suffix(".partial"), vocab, chat_template=template).replace(model)
    return {
        "accelerator": "cpu",
        "model": "glm-5.2-gguf",
        "engine": "llama.cpp",
        "served_model_name": SERVED_MODEL_NAME,
        "model_source": f"http://{GATEWAY}:{MODEL_PORT}",
        "model_files": {TINY_MODEL: sha256_of(model)},
        "llamacpp_source": str(tarball),
        # The tiny model's own context is 2048 tokens.
        "max_model_len": 2048,
        **({} if gateway else {"gateway_enabled": False}),
    }


@dataclass
class DeployResult:
    returncode: int
    results: dict[str, Any] | None
    stderr: str
    stdout: str = ""

    @property
    def changed_operations(self) -> list[str]:
        return [op["name"] for op in (self.results or {}).get("operations", []) if op["success"]]

    @property
    def failed_operations(self) -> list[str]:
        return [op["name"] for op in (self.results or {}).get("operations", []) if op["error"]]


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def start_deploy(inventory: Path) -> subprocess.Popen:
    """A deploy running in the background (for tests that interrupt it)."""
    return subprocess.Popen(pyinfra_command(inventory), cwd=REPO_ROOT, env=_tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_deploy(inventory: Path, json_output: bool = True, deploy: str = "glm52.py",
               options: tuple[str, ...] = ()) -> DeployResult:
    """Run `pyinfra -y [OPTIONS] INVENTORY deploys/<deploy>` exactly as a user would."""
    command = pyinfra_command(inventory, json_output, deploy, options)
    if not json_output:
        return DeployResult(subprocess.call(command, cwd=REPO_ROOT, env=_tool_env()), None, "")
    process = subprocess.run(command, cwd=REPO_ROOT, env=_tool_env(), capture_output=True, text=True)
    try:
        results = json.loads(process.stdout)["results"]
    except (json.JSONDecodeError, KeyError, TypeError):
        results = None
    return DeployResult(process.returncode, results, process.stderr, process.stdout)


def infra_checks_command(inventory: Path, paths: LabPaths, addresses: list[str], extra: list[str] = ()) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO_ROOT / "tests/infra"),
        "--hosts=" + ",".join(f"paramiko://root@{address}" for address in addresses),
        f"--ssh-identity-file={paths.ssh_key}", f"--glm-inventory={inventory}", *extra,
    ]


def run_infra_checks(inventory: Path, paths: LabPaths, addresses: list[str], extra: list[str] = ()) -> int:
    """The testinfra checks of tests/infra against the given lab nodes."""
    return subprocess.call(infra_checks_command(inventory, paths, addresses, extra), cwd=REPO_ROOT, env=_tool_env())


def infra_checks_output(inventory: Path, paths: LabPaths, addresses: list[str], extra: list[str] = ()) -> tuple:
    """The same checks' exit status and report, for tests that read what a failure says."""
    process = subprocess.run(infra_checks_command(inventory, paths, addresses, extra), cwd=REPO_ROOT,
                             env=_tool_env(), capture_output=True, text=True)
    return process.returncode, process.stdout + process.stderr


def lab_tokenizer(paths: LabPaths) -> Path:
    """The tiny model's tokenizer (GPT-2's vocabulary, the same GGUF) as a directory `vllm bench
    serve --tokenizer` loads offline; made once in the lab cache."""
    _, vocab = llamacpp_source(paths.cache_dir)
    directory = paths.cache_dir / "tokenizer-gpt2"
    if not (directory / "tokenizer_config.json").exists():
        write_gpt2_tokenizer(directory, vocab)
    return directory
