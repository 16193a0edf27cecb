"""The docs are what the code generates, their links resolve, and the README stays short.

Generated parts (settings tables, the recipe and role tables, every count the docs state) sit
between markers in README.md and docs/*.md; `python -m glmstack.docs --write` rewrites them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glmstack import docs
from glmstack.paths import REPO_ROOT

FILES = docs.doc_files()
README = REPO_ROOT / "README.md"
README_MAX_LINES = 200
TABLE_ROW_MAX = 400
# A prose line (a paragraph or list item written on one line) longer than this is a wall of text:
# 400 characters is four 100-column lines, one fact with its figures and file names. The longest
# prose line in README.md and docs/ is under it (docs/lab.md's `make demo` bullet, 388); the lab
# tier once listed everything it proves on one 4,629-character line. Code blocks (command output)
# and generated tables are exempt; table rows have their own limit above.
LINE_MAX = 400
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
# Paths in backticks under these folders name files of this repository.
REPO_PATH = re.compile(r"`((?:\.ci|\.github|benchmarks|deploys|glmstack|inventory|roles|templates|tests)/[^`\s]*)`")


def prose(text: str) -> str:
    """`text` without code blocks and code spans, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        match = re.match(r"^#{1,6} (.*)$", line)
        if match:
            base = slug(match[1])
            n = seen.get(base, 0)
            seen[base] = n + 1
            result.add(base if n == 0 else f"{base}-{n}")
    return result


def test_the_generated_parts_are_what_the_code_generates_now():
    stale = [str(path.relative_to(REPO_ROOT)) for path in docs.stale()]
    assert not stale, f"stale generated parts in {stale}: run `python -m glmstack.docs --write`"


def test_every_doc_states_its_counts_through_the_generator():
    used = {match["name"] for path in FILES for match in docs.COUNT.finditer(path.read_text())}
    assert "badinput" in used and "recipes" in used, used
    settings = (REPO_ROOT / "docs" / "settings.md").read_text()
    assert "<!-- generated:settings -->" in settings


def test_a_stale_count_is_found():
    page = "There are <!--n:recipes-->1<!--/n--> recipes.\n<!-- generated:recipes -->\nold\n<!-- /generated -->\n"
    rendered = docs.render(page)
    assert f"<!--n:recipes-->{docs.count('recipes')}<!--/n-->" in rendered
    assert "\nold\n" not in rendered and docs.recipes_table() in rendered
    with pytest.raises(KeyError, match="unknown count"):
        docs.render("<!--n:no-such-count-->1<!--/n-->")


def test_the_counts_are_the_repositorys():
    assert docs.count("badinput") == len(list((REPO_ROOT / "tests" / "badinput").glob("[0-9]*_*.py")))
    assert docs.count("badinput") > 200


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_relative_link_resolves_to_a_file_and_anchor(path):
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.name}")
    assert not broken, f"{path.name}: {broken}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_repository_path_the_docs_name_exists(path):
    missing = [name for name in REPO_PATH.findall(path.read_text())
               if not re.search(r"[<>{}*|]|\.\.\.", name) and not (REPO_ROOT / name.rstrip("/")).exists()]
    assert not missing, f"{path.name} names files that do not exist: {missing}"


def test_every_page_is_linked_from_the_readme():
    targets = LINK.findall(prose(README.read_text()))
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in targets}
    orphans = [path.name for path in FILES[1:] if path.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link: {orphans}"


def test_the_readme_is_short_and_tables_have_short_cells():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    long_rows = [f"{path.name}:{number}: {len(line)} characters" for path in FILES
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if line.startswith("|") and len(line) > TABLE_ROW_MAX]
    assert not long_rows, f"table rows over {TABLE_ROW_MAX} characters (put the detail in text): {long_rows}"


def long_lines(text: str, limit: int = LINE_MAX) -> list[tuple[int, int]]:
    """(line number, length) of each line over `limit` outside code blocks and generated blocks.

    Count markers (`<!--n:name-->`, `<!--/n-->`) are not rendered, so they are not counted.
    """
    found, fenced, generated = [], False, False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if line.startswith("<!-- generated:"):
            generated = True
        elif line.startswith("<!-- /generated -->"):
            generated = False
        elif not (fenced or generated):
            shown = len(re.sub(r"<!--/?n(:[\w-]+)?-->", "", line))
            if shown > limit:
                found.append((number, shown))
    return found


def test_no_wall_of_text_in_the_readme_or_the_docs():
    walls = [f"{path.name}:{number}: {length} characters" for path in FILES
             for number, length in long_lines(path.read_text())]
    assert not walls, (f"lines over {LINE_MAX} characters outside code blocks and generated tables "
                       f"(split them into short bullets, one fact each): {walls}")


def test_a_wall_of_text_is_found_and_code_and_generated_tables_are_not():
    wall = "word " * 100
    page = (f"# Page\n\nshort\n{wall}\n```\n{wall}\n```\n<!-- generated:counts -->\n| {wall} |\n"
            f"<!-- /generated -->\n- <!--n:recipes-->27<!--/n--> {'x' * 390}\n")
    assert long_lines(page) == [(4, len(wall))]


def test_the_readme_names_the_test_command_ci_runs():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in README.read_text()


def test_every_make_target_is_in_the_testing_page():
    phony = re.search(r"^\.PHONY: (.*)$", (REPO_ROOT / "Makefile").read_text(), re.M)[1].split()
    testing = (REPO_ROOT / "docs" / "testing.md").read_text()
    missing = [target for target in phony if f"`make {target}`" not in testing]
    assert not missing, f"make targets docs/testing.md does not describe: {missing}"
