"""glmstack/ and roles/ import each other without cycles, counting the imports under TYPE_CHECKING
(a cycle there is still two modules that each need the other to be understood).

The graph is built from the source with `ast`: every import a module runs when it is imported (its
body, class bodies, `if TYPE_CHECKING:` blocks), from a module to the module it names and to each
package above that one: importing `roles.nvidia.plan` runs roles/__init__.py and
roles/nvidia/__init__.py first, so it is an edge to `roles.nvidia` and `roles` too (Python's view).
That is why a role's operations are roles/<role>/operations.py and its __init__.py imports nothing:
with the operations in the package's __init__.py, glmstack.plan -> roles.nvidia.plan made
glmstack.plan -> roles.nvidia -> glmstack.plan. (The packages above the importing module itself are
left out: Python has them loaded, or loading, before the module runs.)

Imports inside functions run only when the function is called and break nothing at import time;
they are allowed, but listed below so they stay few and deliberate. What the graph leaves out, a
package's __init__.py run before its submodule, is checked by importing each module first.
"""

from __future__ import annotations

import ast
from pathlib import Path

from glmstack.paths import REPO_ROOT

PACKAGES = ("glmstack", "roles")

# Edges allowed to close a cycle: none. (The test below fails when an entry is no longer imported,
# so an exception added here cannot outlive its need.)
KNOWN_EDGES: set[tuple[str, str]] = set()

# Imports run inside a function (module -> imported module), and why each is not at the top.
FUNCTION_LOCAL = {
    # The files every host gets are made once while resolving, to refuse a value their syntax
    # cannot hold; making them takes the roles' operations (pyinfra), which `glmstack plan` and the
    # schema do not otherwise need.
    ("glmstack.resolve", "glmstack.hostfiles"),
    ("glmstack.hostfiles", "roles.service.render"),
    ("glmstack.hostfiles", "roles.service.units"),
    ("glmstack.hostfiles", "roles.amd.operations"),
    ("glmstack.hostfiles", "roles.base.operations"),
    ("glmstack.hostfiles", "roles.engine.operations"),
    ("glmstack.hostfiles", "roles.gateway.render"),
    ("glmstack.hostfiles", "roles.llamacpp.operations"),
    ("glmstack.hostfiles", "roles.nvidia.operations"),
    ("glmstack.hostfiles", "roles.service.operations"),
    ("glmstack.hostfiles", "roles.model.fanout_operations"),
    # Each CLI command loads what it runs, so `glmstack --help` stays quick.
    ("glmstack.cli", "glmstack.drift"),
    ("glmstack.cli", "glmstack.planning"),
    ("glmstack.cli", "glmstack.lock"),
    ("glmstack.cli", "glmstack.bundle"),
    ("glmstack.cli", "glmstack.bundling"),
    ("glmstack.cli", "glmstack.locking"),
    ("glmstack.cli", "glmstack.client"),
    # Source-only helpers a fact and the model role need on one path.
    ("glmstack.facts", "glmstack.ascend"),
    ("roles.model.operations", "glmstack.values"),
    # (A role package's names from its operations are loaded by roles.operations_on_demand when first
    # asked for, after every import has finished: no import edge.)
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))}


def with_packages(targets: set[str], module: str, modules: set[str]) -> set[str]:
    """`targets` and every package above each (`a.b.c`: `a.b` and `a`), as Python imports them;
    except the packages above `module` itself, which are loaded before it runs."""
    own = {".".join(module.split(".")[:end]) for end in range(1, module.count(".") + 1)}
    above = {".".join(target.split(".")[:end]) for target in targets for end in range(1, target.count(".") + 1)}
    return targets | ((above & modules) - own - {module})


def import_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of `modules` an import statement imports: `import X.Y` imports X.Y; `from X
    import name` imports X.name where that is a module, and X for every name that is not."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
    names_in_base = len(node.names) > len(submodules)
    return submodules | ({base} if names_in_base and base in modules else set())


def imports_of(path: Path, module: str, modules: set[str]) -> tuple[set[str], set[str]]:
    """(imports run at import time, with the packages above them; imports inside functions, as
    named), as modules of `modules`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    at_import, in_functions = set(), set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = import_targets(child, module, path.name == "__init__.py", modules) - {module}
                if in_function:
                    in_functions.update(targets)  # by name: the list below stays what the code says
                else:
                    at_import.update(with_packages(targets, module, modules))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return at_import, in_functions


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    modules = source_modules()
    graph, local = {}, set()
    for module, path in modules.items():
        graph[module], in_functions = imports_of(path, module, set(modules))
        local |= {(module, target) for target in in_functions}
    return graph, local


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def without(graph: dict[str, set[str]], edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    return {module: {target for target in targets if (module, target) not in edges}
            for module, targets in graph.items()}


def test_glmstack_and_roles_import_each_other_without_cycles():
    graph, _ = import_graph()
    cycle = find_cycle(without(graph, KNOWN_EDGES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_known_edge_still_exists():
    graph, _ = import_graph()
    gone = sorted(edge for edge in KNOWN_EDGES if edge[1] not in graph.get(edge[0], set()))
    assert not gone, f"no longer imported: {gone}; remove them from KNOWN_EDGES"


def test_imports_inside_functions_are_the_listed_ones():
    _, local = import_graph()
    assert local == FUNCTION_LOCAL, (f"new: {sorted(local - FUNCTION_LOCAL)}; "
                                     f"gone: {sorted(FUNCTION_LOCAL - local)}")


def test_the_checker_finds_a_cycle_through_type_checking_imports(tmp_path):
    """The checker itself: a cycle made only by an import under TYPE_CHECKING is found."""
    a = tmp_path / "a.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from b import thing\n")
    b = tmp_path / "b.py"
    b.write_text("import a\n\ndef f():\n    import c\n")
    graph = {"a": imports_of(a, "a", {"a", "b", "c"})[0], "b": imports_of(b, "b", {"a", "b", "c"})[0], "c": set()}
    assert find_cycle(graph) == ["a", "b", "a"]
    assert imports_of(b, "b", {"a", "b", "c"})[1] == {"c"}


def test_the_checker_counts_the_packages_above_an_imported_module(tmp_path):
    """A cycle through a package's __init__.py, the roles' shape while their operations were their
    __init__.py: p/__init__.py imports q, and q imports p.plan, which runs p/__init__.py first. A
    module of p importing its sibling is no edge to p (p is loaded before its modules run)."""
    (tmp_path / "p").mkdir()
    files = {"p": tmp_path / "p" / "__init__.py", "p.plan": tmp_path / "p" / "plan.py",
             "p.ops": tmp_path / "p" / "ops.py", "q": tmp_path / "q.py"}
    files["p"].write_text("import q\n")
    files["p.plan"].write_text("X = 1\n")
    files["p.ops"].write_text("from p.plan import X\n")
    files["q"].write_text("from p.plan import X\n")
    graph = {name: imports_of(path, name, set(files))[0] for name, path in files.items()}
    assert graph["q"] == {"p", "p.plan"}
    assert graph["p.ops"] == {"p.plan"}
    assert find_cycle(graph) == ["p", "q", "p"]


# Modules a program may import first. The graph above counts `import a.b.c` as an edge to a.b.c
# only, but Python runs a/__init__.py and a/b/__init__.py first: importing each of these alone in a
# fresh state catches a cycle through a package's __init__ (shape -> roles.registry ->
# roles.amd.defaults runs roles/amd/__init__.py -> glmstack.quoting -> shape was one).
IMPORTED_FIRST = sorted({
    "glmstack.config", "glmstack.hostdata", "glmstack.validate", "glmstack.command", "glmstack.plan",
    "glmstack.topology", "glmstack.resolve", "glmstack.checks", "glmstack.fill", "glmstack.shape",
    "glmstack.docs", "glmstack.planning", "glmstack.cli", "glmstack.hostfiles", "glmstack.render",
    "roles.registry", "roles.steps", "roles.vendor_plan",
    *(f"roles.{path.parent.name}.plan" for path in (REPO_ROOT / "roles").glob("*/plan.py")),
    *(f"roles.{path.parent.name}.defaults" for path in (REPO_ROOT / "roles").glob("*/defaults.py")),
    *(f"roles.{path.parent.name}.operations" for path in (REPO_ROOT / "roles").glob("*/operations.py")),
    *(f"roles.{path.parent.name}" for path in (REPO_ROOT / "roles").glob("*/__init__.py")),
})


# Run in a child interpreter: each module imported with none of glmstack's and the roles' modules
# loaded (third-party ones stay loaded, which keeps this quick and changes nothing here).
IMPORT_EACH_FIRST = """
import importlib, sys, traceback
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("glmstack", "roles")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        print(f"{name}: {type(error).__name__}: {error}")
"""


def test_each_module_imports_first():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, *IMPORTED_FIRST], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True)
    assert run.stdout == "", f"cannot be imported first:\n{run.stdout}"
