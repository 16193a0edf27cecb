"""Run inside the vLLM environment (tests/conformance/conformance_envs.py): vLLM's own parser, as
`vllm serve` builds it (vllm/entrypoints/cli/main.py: a FlexibleArgumentParser, its subcommands,
ServeSubcommand's subparser_init with make_arg_parser), then the serve command's own validation and
EngineArgs; and `ray start`'s click command, for the Ray units, from the same environment as the nodes run it.

Reads {"units": [{"id", "argv", "ascend", "ray"}], "ascend_src"} as JSON on stdin; writes
{"results": {id: {"ok", "error", "detail"}}, "envs": {...}, "options": {...}, "allow_abbrev": {...}}
as JSON to the file named by its argument
(vLLM logs to stdout). "ascend" parses the way vllm-ascend's platform hook leaves the parser
(vllm_ascend/platform.py pre_register_and_update: its quantization method appended to
--quantization's choices; the hook itself needs torch-npu), and checks that every --additional-config
key is one vllm-ascend's code reads.

Besides argparse, every option must be written out in full: argparse also takes any unambiguous
prefix of an option (allow_abbrev), which the engine accepts silently today and may not tomorrow.
The engine config after EngineArgs (create_engine_config) reads the checkpoint's config.json and is
not built here.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import logging
import re
import sys
import tempfile
from pathlib import Path

OPTION = re.compile(r"^--?[A-Za-z]")


def exact_option_problems(argv: list[str], option_strings: set[str], dotted: bool) -> list[str]:
    problems = []
    for word in argv:
        if not OPTION.match(word):
            continue
        name = word.split("=", 1)[0]
        if dotted and name.startswith("--"):
            name = name.split(".", 1)[0]  # --speculative-config.method: a key of --speculative-config
        if name not in option_strings:
            taken = sorted(option for option in option_strings if option.startswith(name))
            problems.append(f"{name} is not an option" + (f" (argparse takes it for {', '.join(taken)})"
                                                            if taken else ""))
    return problems


def ascend_quantization(ascend_src: Path) -> str:
    """vllm_ascend.utils.ASCEND_QUANTIZATION_METHOD, read without importing (that needs torch-npu)."""
    tree = ast.parse((ascend_src / "vllm_ascend" / "utils.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ASCEND_QUANTIZATION_METHOD"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError("ASCEND_QUANTIZATION_METHOD not in vllm_ascend/utils.py")


def ascend_fallbacks(ascend_src: Path) -> dict[str, str]:
    """vllm-ascend's environment variables that only stand in for an --additional-config key, which
    it says it will remove (vllm_ascend/ascend_config.py: every _get_config_value(config, key, VARIABLE,
    ...) call): {variable: key}."""
    tree = ast.parse((ascend_src / "vllm_ascend" / "ascend_config.py").read_text())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "_get_config_value" \
                and len(node.args) >= 3 and all(isinstance(a, ast.Constant) for a in node.args[1:3]):
            found[node.args[2].value] = node.args[1].value
    return found


def _is_additional_config(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "additional_config") or \
        (isinstance(node, ast.Attribute) and node.attr == "additional_config")


def ascend_additional_config_keys(ascend_src: Path) -> set[str]:
    """The --additional-config keys vllm-ascend reads: additional_config.get("key"),
    additional_config["key"], "key" in additional_config, _get_config_value(additional_config, "key", ...)."""
    keys = set()
    for path in (ascend_src / "vllm_ascend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr == "get" and _is_additional_config(node.func.value):
                    key = node.args[0]
                elif node.func.attr == "_get_config_value" and len(node.args) >= 2:
                    key = node.args[1]
                else:
                    continue
            elif isinstance(node, ast.Subscript) and _is_additional_config(node.value):
                key = node.slice
            elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In) \
                    and _is_additional_config(node.comparators[0]):
                key = node.left
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
    return keys


def serve_parser(ascend_method: str | None):
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm", description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    command = ServeSubcommand()
    serve = command.subparser_init(subparsers)
    serve.set_defaults(dispatch_function=command.cmd)
    if ascend_method:
        action = serve._option_string_actions.get("--quantization")
        if action is not None and action.choices and ascend_method not in action.choices:
            action.choices.append(ascend_method)
    return parser, serve, command


def check(argv: list[str], parsers, additional_config_keys: set[str] | None = None) -> dict:
    """additional_config_keys: what the platform plugin reads of --additional-config (vllm-ascend)."""
    parser, serve, command = parsers
    with deprecations() as said:
        result = _check(argv, parser, serve, command, additional_config_keys)
    if result["ok"] and said:
        return {"ok": False, "error": "the engine says: " + "; ".join(dict.fromkeys(said))}
    return result


@contextlib.contextmanager
def deprecations():
    """What vLLM logs as deprecated meanwhile (it warns, then carries on with what it means)."""
    said: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if record.levelno >= logging.WARNING and "deprecat" in message.lower():
                said.append(message)

    handler = Handler()
    logging.getLogger("vllm").addHandler(handler)
    try:
        yield said
    finally:
        logging.getLogger("vllm").removeHandler(handler)


def _check(argv: list[str], parser, serve, command, additional_config_keys: set[str] | None) -> dict:
    from vllm.config import SpeculativeConfig
    from vllm.engine.arg_utils import AsyncEngineArgs

    words = argv[1:]  # after the vllm binary: serve MODEL ...
    if len(words) > 1 and words[1].startswith("/"):
        # EngineArgs takes a model path that does not exist for a hub repository: the checkpoint's
        # directory stands here, empty, under a scratch root (nothing reads into it before the
        # engine config, which needs the checkpoint's config.json and is not built here).
        stand_in = Path(tempfile.gettempdir(), "glmstack-conformance-models", words[1].lstrip("/"))
        stand_in.mkdir(parents=True, exist_ok=True)
        words = [words[0], str(stand_in), *words[2:]]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args(words)
    except SystemExit:
        return {"ok": False, "error": stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "exit"}
    if args.subparser != "serve":
        return {"ok": False, "error": f"not `vllm serve`: {words[:1]}"}
    # What argparse accepted, each option written in full.
    problems = exact_option_problems(words[1:], set(serve._option_string_actions), dotted=True)
    if problems:
        return {"ok": False, "error": "; ".join(problems)}
    if additional_config_keys is not None:
        unread = sorted(set(args.additional_config or {}) - additional_config_keys)
        if unread:
            return {"ok": False, "error": f"--additional-config keys the platform never reads: {', '.join(unread)}"}
    if getattr(args, "model_tag", None) is not None:
        args.model = args.model_tag  # as ServeSubcommand.cmd does first
    try:
        command.validate(args)
        engine_args = AsyncEngineArgs.from_cli_args(args)
    except Exception as error:  # the engine refusing it, in its own words
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    if isinstance(engine_args.speculative_config, dict):
        # SpeculativeConfig as create_engine_config builds it, as far as it goes without the
        # checkpoint: it reads the method (and says what it deprecates) before it needs the model.
        try:
            SpeculativeConfig(**engine_args.speculative_config)
        except Exception as error:
            if "target_model_config must be present" not in str(error):
                return {"ok": False, "error": f"--speculative-config: {type(error).__name__}: {error}"}
    return {"ok": True, "detail": f"tp={engine_args.tensor_parallel_size} pp={engine_args.pipeline_parallel_size} "
                                  f"dp={engine_args.data_parallel_size} spec={engine_args.speculative_config}"}


def ray_names() -> list[str]:
    """Ray's own environment variable names: every "RAY_..." string literal of its Python sources."""
    import ray

    names = set()
    for path in Path(ray.__file__).parent.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and re.fullmatch(r"RAY_[A-Z0-9_]+", node.value):
                names.add(node.value)
    return sorted(names)


def check_ray(argv: list[str]) -> dict:
    """`ray start`'s own click command (ray.scripts.scripts.start), as `ray` dispatches to it."""
    import click
    from ray.scripts.scripts import cli, start

    words = argv[1:]
    if words[:1] != ["start"] or cli.get_command(None, "start") is not start:
        return {"ok": False, "error": f"not `ray start`: {words[:1]}"}
    options = {opt for param in start.params for opt in (*param.opts, *param.secondary_opts)}
    try:
        context = start.make_context("ray start", list(words[1:]))
    except click.ClickException as error:
        return {"ok": False, "error": error.format_message()}
    problems = exact_option_problems(words[1:], options, dotted=False)
    if problems:
        return {"ok": False, "error": "; ".join(problems)}
    values = context.params
    return {"ok": True, "detail": f"head={values['head']} address={values['address']} block={values['block']}"}


def main() -> None:
    request = json.load(sys.stdin)
    ascend_src = Path(request["ascend_src"])
    sys.path.insert(0, str(ascend_src))
    import vllm
    import vllm.envs
    import vllm_ascend.envs

    method = ascend_quantization(ascend_src)
    parsers = {False: serve_parser(None), True: serve_parser(method)}
    keys = ascend_additional_config_keys(ascend_src)
    results = {}
    for unit in request["units"]:
        if unit.get("ray"):
            results[unit["id"]] = check_ray(unit["argv"])
        elif unit.get("ascend"):
            results[unit["id"]] = check(unit["argv"], parsers[True], keys)
        else:
            results[unit["id"]] = check(unit["argv"], parsers[False])
    import ray

    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump({"results": results, "versions": {"vllm": vllm.__version__, "ray": ray.__version__},
                   "ascend_quantization": method, "ascend_additional_config_keys": sorted(keys),
                   "envs": {"vllm": sorted(vllm.envs.environment_variables),
                            "vllm-ascend": sorted(vllm_ascend.envs.env_variables),
                            "vllm-ascend-fallbacks": ascend_fallbacks(ascend_src),
                            "ray": ray_names()},
                   # Each option with its aliases, and whether prefixes are taken: what extra_flags may
                   # not repeat is checked against them (test_conformance.py).
                   "options": {name: [list(action.option_strings) for action in parsers[ascend][1]._actions
                                      if action.option_strings] for name, ascend in (("vllm", False),
                                                                                     ("vllm-ascend", True))},
                   "allow_abbrev": {name: parsers[ascend][1].allow_abbrev for name, ascend in (("vllm", False),
                                                                                             ("vllm-ascend", True))}},
                  out)


if __name__ == "__main__":
    main()
