"""`glmstack bench`: the seeds' serving benchmark (`vllm bench serve`) against a deployed endpoint.

The workload and the seed's measured figures are catalog data (catalog/benchmarks.yaml). The tool is
the catalog's pinned vLLM release in a virtual environment uv makes once under ~/.cache/glmstack-bench
(GLMSTACK_BENCH_CACHE overrides it): the vllm wheel without its dependencies, and only what
`vllm bench serve` imports, at the pins vllm's own metadata gives them. The endpoint is the host's
gateway when it has one (TLS, the gateway's key and CA, read from the host over SSH), else its
engine. The key reaches vllm through its environment (OPENAI_API_KEY, which
vllm/benchmarks/lib/endpoint_request_func.py reads), never its command line; the CA through
SSL_CERT_FILE, which the default SSL context aiohttp makes honours.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.parser import Parser
from pathlib import Path
from typing import Any

from glmstack.catalog import BenchResult, ServingBenchmark, load_catalog
from glmstack.once import build_once
from glmstack.planning import inventory_hosts
from glmstack.templating import shared_templates
from glmstack.uv import UV_PACKAGE, ensure_uv_commands, uv_binary

CACHE = Path(os.environ.get("GLMSTACK_BENCH_CACHE", Path.home() / ".cache" / "glmstack-bench"))
RESULTS = Path(os.environ.get("GLMSTACK_BENCH_RESULTS", Path.home() / ".local" / "share" / "glmstack" / "bench"))
RESULT_FILE = "result.json"
TEMPLATES = Path(__file__).resolve().parent / "templates"
REQUIREMENTS_HELPER = TEMPLATES / "bench-requirements.py"


class BenchError(ValueError):
    """Bad input or a failed step: one line naming what (and the host or option) and what is allowed."""


@dataclass(frozen=True)
class Workload:
    backend: str
    endpoint: str
    dataset: str
    input_len: int
    output_len: int
    num_prompts: int
    max_concurrency: int
    request_rate: float = math.inf  # vllm's default: every request at once, capped by max_concurrency
    ignore_eos: bool = False  # the seed does not pass it


# The figures an operator may change: option -> (Workload field, type, lowest allowed).
FIGURES = {
    "input_len": (int, 1),
    "output_len": (int, 1),
    "num_prompts": (int, 1),
    "max_concurrency": (int, 1),
    "request_rate": (float, 0.0),
}


def seed_benchmark() -> ServingBenchmark:
    serving = load_catalog().benchmarks
    if serving is None:
        raise BenchError("catalog: benchmarks.yaml has no serving benchmark")
    return serving.serving


def workload(overrides: dict[str, Any] | None = None) -> Workload:
    """The seed's workload with the operator's figures (None: the seed's)."""
    seed = seed_benchmark()
    base = Workload(backend=seed.backend, endpoint=seed.endpoint, dataset=seed.dataset, input_len=seed.input_len,
                    output_len=seed.output_len, num_prompts=seed.num_prompts, max_concurrency=seed.max_concurrency)
    changes: dict[str, Any] = {}
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name == "ignore_eos":
            changes[name] = bool(value)
            continue
        kind, lowest = FIGURES[name]
        option = "--" + name.replace("_", "-")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = None
        bad = number is None or (isinstance(number, float) and math.isnan(number))
        if bad or number < lowest or (kind is float and number == 0):
            allowed = f"an integer >= {lowest}" if kind is int else "a number > 0 (requests per second), or inf"
            raise BenchError(f"bench: option {option}: {value!r}; allowed: {allowed}")
        changes[name] = number
    return replace(base, **changes)


@dataclass(frozen=True)
class Target:
    """Where the benchmark sends its requests, as seen from where it runs."""

    host: str  # the inventory host serving it
    base_url: str  # scheme://address:port
    served_model_name: str
    tokenizer: str  # a hub repository or a local directory
    key_file: str | None  # on the host: the key clients send (None: the endpoint takes none)
    ca_file: str | None  # on the host: the CA to trust (None: plain HTTP, or a publicly trusted certificate)


def default_tokenizer(model: str) -> str | None:
    """The served model's hub repository (a tokenizer vllm bench can load); for a GGUF model, the
    repository of its family's safetensors checkpoint (the same tokenizer), from the catalog."""
    catalog = load_catalog()

    def repo(name: str) -> str | None:
        entry = catalog.models[name]
        source = entry.source or ""
        return source.removeprefix("hf://") if source.startswith("hf://") and entry.format == "safetensors" else None

    if model in catalog.models and repo(model):
        return repo(model)
    family = catalog.models[model].family if model in catalog.models else None
    for name, entry in catalog.models.items():
        if family and entry.family == family and repo(name):
            return repo(name)
    return None


def target_for(plan, tokenizer: str | None = None) -> Target:
    """The plan's front door: its gateway (plan.gateway, when the gateway role is there), else its engine."""
    gateway = getattr(plan, "gateway", None)
    if gateway is not None:
        base_url, key_file, ca_file = gateway.url.rstrip("/"), gateway.key_file, gateway.ca_file
    else:
        address = plan.node_address
        base_url = f"http://{'[' + address + ']' if ':' in address else address}:{plan.port}"
        key_file = plan.api_key.key_file if plan.api_key else None
        ca_file = None
    chosen = tokenizer or default_tokenizer(plan.config.model)
    if not chosen:
        raise BenchError(f"host {plan.host}: field model: {plan.config.model} has no tokenizer repository in the "
                         "catalog; allowed: give one with --tokenizer (a hub repository or a local directory)")
    return Target(host=plan.host, base_url=base_url, served_model_name=plan.served_model_name, tokenizer=chosen,
                  key_file=key_file, ca_file=ca_file)


def bench_argv(vllm: str, load: Workload, target: Target, result_dir: str) -> list[str]:
    """`vllm bench serve` as seed 001 runs it, with this workload and target; no secret in it."""
    argv = [vllm, "bench", "serve",
            "--backend", load.backend,
            "--base-url", target.base_url,
            "--endpoint", load.endpoint,
            "--model", target.tokenizer,
            "--tokenizer", target.tokenizer,
            "--served-model-name", target.served_model_name,
            "--dataset-name", load.dataset,
            "--random-input-len", str(load.input_len),
            "--random-output-len", str(load.output_len),
            "--num-prompts", str(load.num_prompts),
            "--max-concurrency", str(load.max_concurrency),
            "--percentile-metrics", "ttft,tpot,itl",
            "--metric-percentiles", "99",
            "--save-result", "--result-dir", result_dir, "--result-filename", RESULT_FILE]
    if not math.isinf(load.request_rate):
        argv += ["--request-rate", f"{load.request_rate:g}"]
    if load.ignore_eos:
        argv.append("--ignore-eos")
    return argv


def bench_env(key: str | None, ca_file: Path | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """vllm's environment: the key (OPENAI_API_KEY) and the CA (SSL_CERT_FILE) travel here."""
    env = {name: value for name, value in (os.environ if base is None else base).items()
           if name not in ("OPENAI_API_KEY", "SSL_CERT_FILE")}
    if key:
        env["OPENAI_API_KEY"] = key
    if ca_file:
        env["SSL_CERT_FILE"] = str(ca_file)
    return env


# --- the tool -------------------------------------------------------------------------------------

def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


def _run(command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
        raise BenchError(f"bench: tool: {' '.join(command[:4])} ... failed ({result.returncode}); see {log}: "
                         + " | ".join(tail))


def _uv(cache: Path) -> Path:
    """The nodes' pinned uv (glmstack.uv): the one beside this Python when it is that release, else
    one installed once into the cache."""
    here = Path(sys.executable).parent / "uv"
    if here.is_file():
        version = subprocess.run([str(here), "--version"], capture_output=True, text=True).stdout.split()
        if version[1:2] == [UV_PACKAGE.split("==")[1]]:
            return here

    def build(directory: Path) -> None:
        _run([sys.executable, "-m", "venv", str(directory)], directory / "build.log")
        _run([str(directory / "bin" / "pip"), "install", "--quiet", UV_PACKAGE], directory / "build.log")

    return build_once(cache / f"tools-{UV_PACKAGE.replace('==', '-')}", build) / "bin" / "uv"


def _helper():
    """glmstack/templates/bench-requirements.py, the one selection of vllm's requirements (uploaded as is
    to a bench host)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("glmstack_bench_requirements", REQUIREMENTS_HELPER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_requirements(metadata: str, imports: list[str]) -> list[str]:
    """vllm's own requirements (its METADATA's Requires-Dist) for the packages `vllm bench serve`
    imports: their pins and markers as vllm gives them; extras-only requirements left out."""
    chosen, missing = _helper().select(Parser().parsestr(metadata).get_all("Requires-Dist") or [], imports)
    if missing:
        raise BenchError(f"catalog: benchmarks.serving.tool.imports: {', '.join(missing)} not among vllm's "
                         "requirements; allowed: names from its Requires-Dist")
    return chosen


def tool_spec() -> tuple[str, list[str]]:
    """(the catalog's pinned release of the tool's engine, what `vllm bench serve` imports)."""
    tool = seed_benchmark().tool
    return load_catalog().engines[tool.engine].default.version, list(tool.imports)


def vllm_tool(cache: Path = CACHE) -> Path:
    """The `vllm` of the catalog's pinned release, made once (a second call installs nothing)."""
    version, imports = tool_spec()
    name = f"vllm-{version}-{_key(*imports, sys.version, UV_PACKAGE)}"
    uv = _uv(cache)
    env = {**os.environ, "UV_CACHE_DIR": str(cache / "uv-cache")}

    def build(directory: Path) -> None:
        log, python = directory / "build.log", directory / "venv" / "bin" / "python"
        _run([str(uv), "venv", "--quiet", "--python", sys.executable, str(directory / "venv")], log, env)
        _run([str(uv), "pip", "install", "--quiet", "--python", str(python), "--no-deps", f"vllm=={version}"],
             log, env)
        (dist,) = (directory / "venv").glob(f"lib/python*/site-packages/vllm-{version}.dist-info")
        requirements = tool_requirements((dist / "METADATA").read_text(), imports)
        _run([str(uv), "pip", "install", "--quiet", "--python", str(python), *requirements], log, env)

    return build_once(cache / name, build) / "venv" / "bin" / "vllm"


# --- the result -----------------------------------------------------------------------------------

# (label, the result's key, the seed row's field): means, then P99; per user is output / concurrency.
COLUMNS = [
    ("gen tok/s", "output_throughput", "output_throughput"),
    ("per user tok/s", "per_user_output_throughput", "per_user_output_throughput"),
    ("total tok/s", "total_token_throughput", "total_throughput"),
    ("TTFT ms", "mean_ttft_ms", "mean_ttft_ms"),
    ("TTFT p99", "p99_ttft_ms", "p99_ttft_ms"),
    ("TPOT ms", "mean_tpot_ms", "mean_tpot_ms"),
    ("TPOT p99", "p99_tpot_ms", "p99_tpot_ms"),
    ("ITL ms", "mean_itl_ms", "mean_itl_ms"),
    ("ITL p99", "p99_itl_ms", "p99_itl_ms"),
]


@dataclass(frozen=True)
class BenchRun:
    result: dict[str, Any]
    directory: Path

    @property
    def per_user_output_throughput(self) -> float:
        concurrency = self.result.get("max_concurrency") or self.result.get("num_prompts") or 1
        return self.result["output_throughput"] / concurrency


def read_result(directory: Path) -> dict[str, Any]:
    path = directory / RESULT_FILE
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BenchError(f"bench: result {path}: not vllm's saved result ({error})") from None
    missing = [key for key in ("completed", "num_prompts", "output_throughput", "total_token_throughput")
               if key not in result]
    if missing:
        raise BenchError(f"bench: result {path}: lacks {', '.join(missing)}")
    return result


def result_table(result: dict[str, Any], label: str, load: Workload, seed_rows: list[BenchResult] | None = None):
    """This run beside the seed's rows (rich Table)."""
    from rich.table import Table

    seed = seed_benchmark()
    rows = seed.results if seed_rows is None else seed_rows
    table = Table("run", "workload (in/out)", *(name for name, _, _ in COLUMNS),
                  title="vllm bench serve: this run and seed " + seed.seed)
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    concurrency = result.get("max_concurrency") or result.get("num_prompts") or 1
    values = {**result, "per_user_output_throughput": result["output_throughput"] / concurrency}
    table.add_row(label, _workload(load.input_len, load.output_len, load.max_concurrency, load.num_prompts),
                  *(_figure(values.get(key)) for _, key, _ in COLUMNS))
    for row in rows:
        table.add_row(f"seed {seed.seed}: {row.engine} on {row.hardware}",
                      _workload(seed.input_len, seed.output_len, seed.max_concurrency, seed.num_prompts),
                      *(_figure(getattr(row, field)) for _, _, field in COLUMNS))
    return table


def _workload(input_len: int, output_len: int, concurrency: int, prompts: int) -> str:
    return f"{input_len}/{output_len} tok, {concurrency} at once, {prompts} prompts"


def _figure(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def result_directory(root: Path, host: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    directory = root / f"{host}-{stamp}"
    directory.mkdir(parents=True, mode=0o700)
    return directory


def run_local(load: Workload, target: Target, key: str | None, ca_pem: bytes | None, results: Path,
              vllm: Path | None = None, stream=None) -> BenchRun:
    """Run vllm bench serve here against the target; its saved result in a new directory under results."""
    vllm = vllm or vllm_tool()
    directory = result_directory(results, target.host)
    ca_file = None
    if ca_pem:
        ca_file = directory / "ca.pem"
        ca_file.write_bytes(ca_pem)
    argv = bench_argv(str(vllm), load, target, str(directory))
    (directory / "command.txt").write_text(" ".join(argv) + "\n")
    env = bench_env(key, ca_file)
    # The tokenizer is a local directory or is fetched from the hub; nothing else is contacted.
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if Path(target.tokenizer).is_dir():
        env["HF_HUB_OFFLINE"] = "1"
    with open(directory / "vllm-bench.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        for line in process.stdout:
            log.write(line)
            if stream is not None:
                stream.write(line)
        code = process.wait()
    if code != 0:
        raise BenchError(f"host {target.host}: bench: vllm bench serve exited {code}; "
                         f"see {directory / 'vllm-bench.log'}")
    return BenchRun(read_result(directory), directory)


# --- the host -------------------------------------------------------------------------------------

def read_host_files(inventory: str | Path, host_name: str, paths: list[str]) -> dict[str, bytes]:
    """The files (as root) from one inventory host over SSH, with pyinfra's API and the inventory's
    connection data. (glmstack client reads the same two files; the two could share this.)"""
    from pyinfra.api import StringCommand

    found: dict[str, bytes] = {}
    with _connected(inventory, host_name) as host:
        for path in paths:
            # cat into this process (never printed): pyinfra's get_file with sudo would first copy the
            # file to a world-readable temporary one.
            ok, output = host.run_shell_command(StringCommand("cat", path), print_output=False,
                                                _sudo=bool(host.data.get("_sudo", False)))
            if not ok:
                raise BenchError(f"host {host_name}: bench: cannot read {path}")
            found[path] = (output.stdout + "\n").encode()
    return found


# --- the command ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Runner:
    """Where vllm bench serve runs: here (host None) or on an inventory host over SSH."""

    host: str | None = None
    prefix: str = "/opt/glmstack"  # the bench host's base_prefix: the tool's environment goes under it


def bench_plan(plans: list, args) -> tuple[Workload, Target, Runner]:
    """The workload, the endpoint and where to run, from the inventory's plans and the command's
    options; bad input as one line naming the host or option and what is allowed."""
    load = workload({name: getattr(args, name, None) for name in (*FIGURES, "ignore_eos")})
    by_name = {plan.host: plan for plan in plans}
    serving = [plan for plan in plans if plan.serves_api]
    if args.target is not None:
        if args.target not in by_name:
            raise BenchError(f"host {args.target}: option --target: not in {args.inventory}; allowed: "
                             f"{', '.join(plan.host for plan in serving) or 'none'}")
        if not by_name[args.target].serves_api:
            raise BenchError(f"host {args.target}: option --target: does not serve the API (a worker of its "
                             f"deployment); allowed: {', '.join(plan.host for plan in serving)}")
        plan = by_name[args.target]
    elif serving:
        plan = serving[0]
    else:
        raise BenchError(f"bench: {args.inventory}: no host serves the API")
    if args.host is not None and args.host not in by_name:
        raise BenchError(f"host {args.host}: option --host: not in {args.inventory}; allowed: "
                         f"{', '.join(by_name)}")
    tokenizer = args.tokenizer
    if tokenizer and args.host is None and tokenizer.startswith(("/", ".")) and not Path(tokenizer).is_dir():
        raise BenchError(f"bench: option --tokenizer: {tokenizer} is not a directory; allowed: a local "
                         "tokenizer directory or a hub repository (owner/name)")
    runner = Runner(args.host, by_name[args.host].config.base_prefix) if args.host else Runner()
    return load, target_for(plan, tokenizer), runner


def run_bench(inventory, load: Workload, target: Target, runner: Runner, results: Path, stream=None):
    """Read the key and CA from the serving host, run the benchmark, and return it with its table."""
    wanted = [path for path in (target.key_file, target.ca_file) if path]
    files = read_host_files(inventory, target.host, wanted) if wanted else {}
    key = files[target.key_file].decode().strip() if target.key_file else None
    ca_pem = files[target.ca_file] if target.ca_file else None
    if runner.host is None:
        run = run_local(load, target, key, ca_pem, results, stream=stream)
        label = f"{target.host} (from here)"
    else:
        run = run_remote(inventory, runner.host, load, target, key, ca_pem, results, runner.prefix)
        label = f"{target.host} (from {runner.host})"
    return run, result_table(run.result, label, load)


REMOTE_WORKDIR_PARENT = "/var/tmp"


def remote_script(prefix: str, workdir: str, load: Workload, target: Target, key: bool, ca: bool) -> str:
    """The bench host's script (templates/bench-run.sh.j2): the tool made once under the host's
    prefix, then vllm bench serve with the key and CA from files in `workdir`."""
    version, imports = tool_spec()
    env = f"{prefix}/venvs/vllm-bench-{version}-{_key(*imports, UV_PACKAGE)}"
    remote_target = replace(target, tokenizer=f"{workdir}/tokenizer") if Path(target.tokenizer).is_dir() else target
    argv = bench_argv("vllm", load, remote_target, workdir)[1:]
    return shared_templates().get_template("bench-run.sh.j2").render(
        uv_commands=ensure_uv_commands(prefix), uv=uv_binary(prefix), env=env, vllm=f"vllm=={version}",
        imports=imports, workdir=workdir, key=key, ca=ca, argv=argv, offline=Path(target.tokenizer).is_dir())


@contextmanager
def _connected(inventory, host_name: str):
    """One inventory host, connected with pyinfra's API and the inventory's connection data."""
    import logging

    from pyinfra.api import Config, Inventory, State
    from pyinfra.api.connect import connect_all
    from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state

    logging.getLogger("pyinfra").setLevel(logging.ERROR)
    hosts = [(name, data) for name, data in inventory_hosts(inventory) if name == host_name]
    inventory_obj = Inventory((hosts, {}))
    config = Config()
    state = State(inventory_obj, config)
    with ctx_state.use(state), ctx_inventory.use(inventory_obj), ctx_config.use(config):
        try:
            connect_all(state)
        except Exception:  # noqa: BLE001 - pyinfra's own errors for a host it cannot reach
            pass
        host = inventory_obj.get_host(host_name)
        if host not in state.active_hosts:
            raise BenchError(f"host {host_name}: bench: cannot connect over SSH")
        with ctx_host.use(host):
            try:
                yield host
            finally:
                host.disconnect()


def run_remote(inventory, host_name: str, load: Workload, target: Target, key: str | None, ca_pem: bytes | None,
               results: Path, prefix: str) -> BenchRun:
    """vllm bench serve on an inventory host: its script, the key, the CA (and a local tokenizer
    directory) in a 0700 directory there; the result fetched into a new directory here."""
    from pyinfra.api import StringCommand

    directory = result_directory(results, target.host)
    with _connected(inventory, host_name) as host:
        sudo = {"_sudo": bool(host.data.get("_sudo", False))}
        template = f"{REMOTE_WORKDIR_PARENT}/glmstack-bench.XXXXXX"
        ok, output = host.run_shell_command(StringCommand("mktemp", "-d", template), **sudo)
        if not ok:
            raise BenchError(f"host {host_name}: bench: cannot make a directory in {REMOTE_WORKDIR_PARENT}")
        workdir = output.stdout.strip()
        try:
            script = remote_script(prefix, workdir, load, target, key is not None, ca_pem is not None)
            (directory / "bench-run.sh").write_text(script)
            uploads = {"bench-run.sh": script.encode(), "bench-requirements.py": REQUIREMENTS_HELPER.read_bytes()}
            if key is not None:
                uploads["key"] = key.encode() + b"\n"
            if ca_pem is not None:
                uploads["ca.pem"] = ca_pem
            if Path(target.tokenizer).is_dir():
                host.run_shell_command(StringCommand("mkdir", f"{workdir}/tokenizer"), **sudo)
                for path in sorted(Path(target.tokenizer).iterdir()):
                    if path.is_file():
                        uploads[f"tokenizer/{path.name}"] = path.read_bytes()
            for name, content in uploads.items():
                if not host.put_file(io.BytesIO(content), f"{workdir}/{name}", print_output=False, **sudo):
                    raise BenchError(f"host {host_name}: bench: cannot upload {name} to {workdir}")
            ok, output = host.run_shell_command(StringCommand("sh", f"{workdir}/bench-run.sh"), print_output=False,
                                                **sudo)
            (directory / "vllm-bench.log").write_text(output.stdout + "\n" + output.stderr)
            if not ok:
                last = (output.stderr_lines or output.stdout_lines or [""])[-1].strip()
                log = directory / "vllm-bench.log"
                raise BenchError(f"host {host_name}: bench: the run failed: {last}; see {log}")
            buffer = io.BytesIO()
            if not host.get_file(f"{workdir}/{RESULT_FILE}", buffer, **sudo):
                raise BenchError(f"host {host_name}: bench: no {RESULT_FILE} in {workdir}")
            (directory / RESULT_FILE).write_bytes(buffer.getvalue())
        finally:
            host.run_shell_command(StringCommand("rm", "-rf", workdir), **sudo)
    return BenchRun(read_result(directory), directory)
