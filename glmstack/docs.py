"""The docs' generated parts: settings tables, the recipe table and every count the docs state.

    python -m glmstack.docs            print the settings tables
    python -m glmstack.docs --write    rewrite the generated parts of README.md and docs/*.md
    python -m glmstack.docs --check    exit 1 naming each file whose generated parts are stale

A generated block sits between `<!-- generated:NAME -->` and `<!-- /generated -->` (see BLOCKS);
a generated count between `<!--n:NAME-->` and `<!--/n-->` (see COUNTS). Everything else in the
docs is written by hand. tests/unit/test_docs.py keeps the committed docs equal to what this
module generates now, so a count that went stale fails the fast tests.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from glmstack.catalog import load_catalog
from glmstack.hostdata import DeploymentSettings
from glmstack.paths import REPO_ROOT
from roles.registry import ROLES, Role


def sections(roles: tuple[Role, ...] = ROLES) -> list[tuple[str, type[BaseModel]]]:
    """The settings every host gives, then one table per role with settings, in registry order."""
    return [("Deployment (every host)", DeploymentSettings),
            *((f"Role `{role.name}`", role.settings) for role in roles if role.settings is not None)]


SECTIONS = sections()


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if not hasattr(annotation, "__args__") else None
    text = text or str(annotation).replace("typing.", "").replace("pathlib.", "")
    return text.replace("NoneType", "None").replace("|", "\\|")


def settings_table(model: type[BaseModel]) -> str:
    rows = ["| setting | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else f"`{field.default!r}`"
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {field.description} |")
    return "\n".join(rows)


def all_tables() -> str:
    return "\n\n".join(f"## {title}\n\n{settings_table(model)}" for title, model in SECTIONS)


# Where the docs live: the README and every page under docs/.
def doc_files(root: Path = REPO_ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# --- the counts ----------------------------------------------------------------------------------

TESTS = REPO_ROOT / "tests"


def _literal_size(path: Path, name: str) -> int:
    """Items of the module-level list or dict literal `name` in a test file (read, not imported)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            if isinstance(node.value, ast.Dict):
                return len(node.value.keys)
            if isinstance(node.value, ast.List):
                return len(node.value.elts)
    raise LookupError(f"{path.name}: no list or dict literal {name}")


def _import_test_module(folder: Path, name: str):
    sys.path.insert(0, str(folder))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(folder))


@cache
def _catalog():
    return load_catalog()


@cache
def _per_field_corpus():
    return _import_test_module(TESTS / "unit", "test_bad_values_per_field")


COUNTS: dict[str, tuple[str, Callable[[], int]]] = {
    "badinput": ("malformed inventories in tests/badinput (each `NN_name.py`)",
                 lambda: len(list((TESTS / "badinput").glob("[0-9]*_*.py")))),
    "fields": ("host-data fields (HostConfig)", lambda: len(_per_field_corpus().FIELDS)),
    "wrong-type-cases": ("wrong-type cases of the per-field corpus", lambda: len(_per_field_corpus().WRONG)),
    "text-cases": ("newline and NUL cases of the per-field corpus", lambda: len(_per_field_corpus().TEXT)),
    "settings": ("settings in the settings tables", lambda: sum(len(m.model_fields) for _, m in SECTIONS)),
    "recipes": ("catalog recipes", lambda: len(_catalog().recipes)),
    "models": ("catalog models", lambda: len(_catalog().models)),
    "accelerators": ("catalog accelerators", lambda: len(_catalog().accelerators)),
    "engines": ("catalog engines", lambda: len(_catalog().engines)),
    "conformance-units": ("units the conformance tier parses (every node of every recipe)",
                          lambda: len(_import_test_module(TESTS / "conformance", "conformance_units").all_units())),
    "conformance-mistakes": ("deliberate mistakes the conformance tier must see refused",
                             lambda: _literal_size(TESTS / "conformance" / "test_conformance.py", "PROBES")
                             + _literal_size(TESTS / "conformance" / "test_conformance.py", "ENV_PROBES")),
    "odd-flags": ("hostile-but-valid flags read back through systemd's loader",
                  lambda: _literal_size(TESTS / "unit" / "test_quoting_round_trip.py", "ODD_FLAGS")),
    "odd-env": ("hostile-but-valid environment values read back the same way",
                lambda: _literal_size(TESTS / "unit" / "test_quoting_round_trip.py", "ODD_ENV")),
}


@cache
def count(name: str) -> int:
    return COUNTS[name][1]()


# --- the blocks ----------------------------------------------------------------------------------


def _release(recipe) -> str:
    """The engine release a recipe runs: its own pin, else the engine's default (or single) pin."""
    engine = _catalog().engines[recipe.engine]
    for release in (getattr(recipe, "engine_release", None), getattr(engine, "default_release", None),
                    getattr(engine, "version", None)):
        if release:
            return release[:12]
    return "not pinned"


def recipes_table() -> str:
    rows = ["| model | accelerator | engine | release | variant | nodes | TP x PP x DP | seed |",
            "|---|---|---|---|---|---|---|---|"]
    for recipe in sorted(_catalog().recipes, key=lambda r: (r.accelerator, r.model, r.engine, r.variant)):
        layout = recipe.parallel
        shape = " x ".join("-" if size is None else str(size) for size in
                           (layout.tensor_parallel_size, layout.pipeline_parallel_size, layout.data_parallel_size))
        rows.append(f"| `{recipe.model}` | {recipe.accelerator} | {recipe.engine} | {_release(recipe)} "
                    f"| {recipe.variant} | {layout.nodes} | {shape} | {recipe.seed} |")
    return "\n".join(rows)


def counts_table() -> str:
    rows = ["| count | what | marker |", "|---|---|---|"]
    rows += [f"| {count(name)} | {what} | `{name}` |" for name, (what, _) in COUNTS.items()]
    return "\n".join(rows)


def catalog_files_table() -> str:
    """Each catalog file and the first sentence of the comment it opens with."""
    rows = ["| file | holds |", "|---|---|"]
    for path in sorted((REPO_ROOT / "glmstack" / "catalog").glob("*.yaml")):
        header = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            header.append(line.lstrip("# ").strip())
        text = " ".join(" ".join(header).split())
        summary = re.split(r"(?<=[a-z)])\. ", text)[0].rstrip(".")
        rows.append(f"| `{path.name}` | {summary.replace('|', '/')} |")
    return "\n".join(rows)


def roles_table() -> str:
    """Each folder under roles/: what its docstring says it does, and what it holds."""
    rows = ["| role | what it does | holds |", "|---|---|---|"]
    for folder in sorted(p for p in (REPO_ROOT / "roles").iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        summary = " ".join(doc.split("\n\n")[0].split()).removeprefix(f"{folder.name}: ")
        summary = summary.split(". ")[0].rstrip(".")
        held = sorted(f"{p.name}/" if p.is_dir() else p.name for p in folder.iterdir()
                      if p.name != "__pycache__" and not p.name.endswith(".pyc"))
        rows.append(f"| `{folder.name}` | {summary} | {', '.join(held)} |")
    return "\n".join(rows)


BLOCKS: dict[str, Callable[[], str]] = {
    "roles": roles_table,
    "catalog-files": catalog_files_table,
    "settings": all_tables,
    "recipes": recipes_table,
    "counts": counts_table,
}

BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(\n?<!-- /generated -->)", re.S)
COUNT = re.compile(r"(<!--n:(?P<name>[\w-]+)-->)(?P<body>[^<]*)(<!--/n-->)")


def render(text: str, where: str = "") -> str:
    """`text` with every generated block and count as the code makes them now."""

    def block(match: re.Match) -> str:
        if match["name"] not in BLOCKS:
            raise KeyError(f"{where}: unknown generated block {match['name']!r}; known: {sorted(BLOCKS)}")
        return f"{match[1]}{BLOCKS[match['name']]().strip()}\n<!-- /generated -->"

    def number(match: re.Match) -> str:
        if match["name"] not in COUNTS:
            raise KeyError(f"{where}: unknown count {match['name']!r}; known: {sorted(COUNTS)}")
        return f"{match[1]}{count(match['name'])}{match[4]}"

    return COUNT.sub(number, BLOCK.sub(block, text))


def stale(root: Path = REPO_ROOT) -> list[Path]:
    """The doc files whose generated parts differ from what the code generates now."""
    return [path for path in doc_files(root) if render(path.read_text(), path.name) != path.read_text()]


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        for path in stale():
            path.write_text(render(path.read_text(), path.name))
            print(f"rewrote {path.relative_to(REPO_ROOT)}")
        return 0
    if argv == ["--check"]:
        paths = stale()
        for path in paths:
            print(f"{path.relative_to(REPO_ROOT)}: generated parts are stale; run python -m glmstack.docs --write")
        return 1 if paths else 0
    if not argv:
        print(all_tables())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
