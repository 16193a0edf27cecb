"""Run inside the SGLang environment (tests/conformance/conformance_envs.py): SGLang's own parser
and ServerArgs, through sglang.srt.server_args.prepare_server_args, which both
`python -m sglang.launch_server` and `sglang serve` call with the words after their own (for
`sglang serve`, after its own --model-type and positional-model handling; its choice between the LLM
and diffusion backends reads the checkpoint and is not made here).

Reads {"units": [{"id", "argv"}]} as JSON on stdin; writes {"results": {id: {"ok", "error",
"detail"}}, "envs": {...}} as JSON to the file named by its argument. ServerArgs.resolve_once (what
the server runs next) reads the checkpoint's config.json, which is not here: it is not run.

Besides argparse, every option must be written out in full: SGLang 0.5.21 has no --tp, and argparse
took it silently as an abbreviation of --tp-size (allow_abbrev).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys

OPTION = re.compile(r"^--?[A-Za-z]")


def engine_words(argv: list[str]) -> list[str] | None:
    """The words prepare_server_args gets: after `python -m sglang.launch_server` or `sglang serve`."""
    if argv[1:3] == ["-m", "sglang.launch_server"]:
        return argv[3:]
    if argv[1:2] == ["serve"]:
        # `sglang serve` (sglang.cli.serve): its own backend selector and positional model path first.
        from sglang.cli.serve import _extract_model_type_override, _normalize_positional_model_path

        _, words = _extract_model_type_override(argv[2:])
        return _normalize_positional_model_path(words)[0]
    return None


def check(argv: list[str]) -> dict:
    from sglang.srt.server_args import ServerArgs, prepare_server_args

    words = engine_words(argv)
    if words is None:
        return {"ok": False, "error": f"neither `python -m sglang.launch_server` nor `sglang serve`: {argv[:3]}"}
    parser = argparse.ArgumentParser(prog="sglang serve")  # as prepare_server_args builds it
    ServerArgs.add_cli_args(parser)
    options = set(parser._option_string_actions)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            server_args = prepare_server_args(list(words))
    except SystemExit:
        return {"ok": False, "error": stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "exit"}
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    # What argparse accepted, each option written in full.
    problems = []
    for word in words:
        name = word.split("=", 1)[0]
        if OPTION.match(word) and name not in options:
            taken = sorted(option for option in options if option.startswith(name))
            problems.append(f"{name} is not an option" + (f" (argparse takes it for {', '.join(taken)})"
                                                            if taken else ""))
    if problems:
        return {"ok": False, "error": "; ".join(problems)}
    return {"ok": True, "detail": f"tp_size={server_args.tp_size} nnodes={server_args.nnodes} "
                                  f"node_rank={server_args.node_rank}"}


def main() -> None:
    request = json.load(sys.stdin)
    import sglang
    from sglang.srt.environ import _DEPRECATED_ENVS, EnvField, Envs
    from sglang.srt.server_args import ServerArgs

    results = {unit["id"]: check(unit["argv"]) for unit in request["units"]}
    names = sorted(value.name for value in vars(Envs).values() if isinstance(value, EnvField))
    parser = argparse.ArgumentParser(prog="sglang serve")  # as prepare_server_args builds it
    ServerArgs.add_cli_args(parser)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump({"results": results, "versions": {"sglang": sglang.__version__},
                   "envs": {"sglang": names, "sglang-deprecated": sorted(_DEPRECATED_ENVS)},
                   "options": {"sglang": [list(action.option_strings) for action in parser._actions
                                          if action.option_strings]},
                   "allow_abbrev": {"sglang": parser.allow_abbrev}}, out)


if __name__ == "__main__":
    main()
