"""model: put the model's weights in a fixed place on the host, verified, and mark them ready."""

from __future__ import annotations

import posixpath
import shlex
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FileContents

from glmstack.ops import ensure_packages, put_secret
from glmstack.uv import ensure_uv_commands, uv_binary

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.config import DeployPlan, ModelPlan

HF_CLI_PACKAGE = "huggingface_hub==2.4.0"

# Shell functions the fetch scripts share: verify a file, download one with resume.
SHELL_HELPERS = r"""
verify() { echo "$2  $1" | sha256sum -c --status -; }
fetch() {
  target="$dir/$1"
  if [ -f "$target" ] && verify "$target" "$2"; then return 0; fi
  mkdir -p "$(dirname "$target")"
  if ! { [ -f "$target.partial" ] && verify "$target.partial" "$2"; }; then
    # Resume what an interrupted run left; a mirror that cannot serve byte ranges gets a fresh start.
    curl -fL --retry 5 --retry-delay 2 --speed-limit 1024 --speed-time 60 --continue-at - --silent \
      --show-error -o "$target.partial" "$base/$1" || {
      rm -f "$target.partial"
      curl -fL --retry 5 --retry-delay 2 --speed-limit 1024 --speed-time 60 --silent --show-error \
        -o "$target.partial" "$base/$1"
    }
  fi
  if ! verify "$target.partial" "$2"; then
    rm -f "$target.partial"
    echo "sha256 mismatch for $1 from $base: removed, rerun to fetch it again" >&2
    exit 1
  fi
  mv "$target.partial" "$target"
}
""".strip()


def ready_marker(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_state_dir, "models", f"{plan.config.model}.ready")


def fetch_lock(plan: DeployPlan) -> str:
    return ready_marker(plan) + ".lock"


def token_path(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_config_dir, "hf-token")


def hf_cli(plan: DeployPlan) -> str:
    return posixpath.join(plan.config.base_prefix, "venvs", "hf", "bin", "hf")


def _verify_listed_files(model: ModelPlan) -> list[str]:
    q = shlex.quote
    lines = [f'verify "$dir"/{q(name)} {digest} || {{ echo "sha256 mismatch for {name}" >&2; exit 1; }}'
             for name, digest in model.files]
    return lines + [f'test -f "$dir"/{q(model.entry)} || {{ echo "missing {model.entry}" >&2; exit 1; }}']


def _hf_tool_commands(plan: DeployPlan) -> list[str]:
    """A uv-made virtual environment holding the hub's own `hf` client, made once."""
    q = shlex.quote
    prefix = plan.config.base_prefix
    uv, hf_env = uv_binary(prefix), f"{prefix}/venvs/hf"
    return [*ensure_uv_commands(prefix),
            f"if [ ! -x {q(hf_cli(plan))} ]; then",
            f"  rm -rf {q(hf_env)}",
            f"  {q(uv)} venv --quiet {q(hf_env)}",
            f"  {q(uv)} pip install --quiet --python {q(hf_env)}/bin/python {q(HF_CLI_PACKAGE)}",
            "fi"]


def fetch_script(plan: DeployPlan) -> str:
    model = plan.model
    q = shlex.quote
    marker = q(ready_marker(plan))
    lines = [
        "set -eu",
        # A killed deploy can leave its fetch running on the host (no terminal, so no hangup):
        # wait for it, and stop here if it finished the job.
        f"exec 9>>{q(fetch_lock(plan))}",
        "flock 9",
        f"echo $$ > {q(fetch_lock(plan))}",  # who holds it, for an operator (and the fault tests)
        f'if [ "$(cat {marker} 2>/dev/null)" = {model.fingerprint} ]; then exit 0; fi',
        # A stale marker must not survive a failed fetch of different weights.
        f"rm -f {marker}",
        f"dir={q(model.directory)}",
        SHELL_HELPERS,
    ]
    if model.kind == "http":
        lines += [f"base={q(model.source)}", 'mkdir -p "$dir"']
        lines += [f"fetch {q(name)} {digest}" for name, digest in model.files]
    elif model.kind == "hf":
        repo = model.source.removeprefix("hf://")
        includes = " ".join(f"--include {q(pattern)}" for pattern in model.include)
        env = "HF_HUB_DISABLE_TELEMETRY=1"
        if model.token_file:
            # The token stays in a 0600 file; huggingface_hub reads it from HF_TOKEN_PATH.
            env += f" HF_TOKEN_PATH={q(token_path(plan))}"
        lines += _hf_tool_commands(plan) + [
            'mkdir -p "$dir"',
            f"{env} {q(hf_cli(plan))} download {q(repo)} --revision {model.revision} {includes} "
            '--local-dir "$dir"',
        ]
    lines += _verify_listed_files(model)
    if model.kind != "path":
        group = plan.config.base_service_group
        lines += [f'chown -R root:{q(group)} "$dir"', 'chmod -R u=rwX,g=rX,o= "$dir"']
    lines.append(f"printf '%s\\n' {model.fingerprint} > {q(ready_marker(plan))}")
    return "\n".join(lines)


@operation()
def fetch_model(plan: DeployPlan):
    """Fetch and verify the weights unless the ready marker records exactly these."""
    marker = host.get_fact(FileContents, path=ready_marker(plan))
    if marker == [plan.model.fingerprint]:
        host.noop(f"model {plan.config.model} is already in place and verified")
        return
    yield fetch_script(plan)


@deploy("glmstack model")
def install_model(plan: DeployPlan) -> None:
    if plan.model.kind == "modelscope":
        raise DeployError(f"host {host.name}: ModelScope downloads are not supported yet; mirror the weights "
                          "over http(s) or put them on the host and set model_source to that path")
    if plan.model.kind == "hf":
        ensure_packages("Python for the hub client", ["python3-venv"])
        if plan.model.token_file:
            put_secret(name="Hub token (0600, root only)", src=str(plan.model.token_file), dest=token_path(plan))
    fetch_model(name=f"Fetch and verify {plan.config.model}", plan=plan)
