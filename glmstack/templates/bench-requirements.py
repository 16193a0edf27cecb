"""vllm's own requirements for the packages `vllm bench serve` imports (glmstack bench's tool).

Run with the Python of an environment holding the vllm wheel alone: prints, one a line, each
Requires-Dist of vllm naming one of the arguments, with vllm's pins and markers (extras left out).
glmstack.bench uses select() on the control machine; a bench host runs this file as uploaded.
"""

from __future__ import annotations

import re
import sys

NAME = re.compile(r"[A-Za-z0-9._-]+")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def select(requires: list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """(the requirements naming one of `names`, the names none of them names)."""
    wanted = {normalize(name) for name in names}
    chosen = [r for r in requires if normalize(NAME.match(r).group(0)) in wanted and "extra ==" not in r]
    found = {normalize(NAME.match(r).group(0)) for r in chosen}
    return chosen, sorted(wanted - found)


if __name__ == "__main__":
    from importlib.metadata import requires

    chosen, missing = select(requires("vllm") or [], sys.argv[1:])
    if missing:
        sys.exit(f"not among vllm's requirements: {', '.join(missing)}")
    print("\n".join(chosen))
