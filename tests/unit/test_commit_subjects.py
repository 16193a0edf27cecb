"""Commit subjects are at most 72 characters, the detail in the body (issue 17).

Checked for every commit after BASE, the last commit before the rule; skipped where there is no
git, no checkout, or BASE is not in the history (a shallow clone, an exported tree).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from glmstack.paths import REPO_ROOT

BASE = "3f70673"
MAX_SUBJECT = 72


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def history_after(repo: Path, base: str) -> list[str] | None:
    """Subjects of the commits after `base` up to HEAD; None where that cannot be read."""
    if shutil.which("git") is None or git(repo, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        return None
    if git(repo, "cat-file", "-e", f"{base}^{{commit}}").returncode != 0:
        return None
    if git(repo, "merge-base", "--is-ancestor", base, "HEAD").returncode != 0:
        return None
    log = git(repo, "log", "--format=%h %s", f"{base}..HEAD")
    return log.stdout.splitlines() if log.returncode == 0 else None


def too_long(lines: list[str]) -> list[str]:
    """The `<hash> <subject>` lines whose subject is over MAX_SUBJECT characters."""
    return [line for line in lines if len(line.partition(" ")[2]) > MAX_SUBJECT]


def test_every_commit_subject_after_the_base_is_short():
    lines = history_after(REPO_ROOT, BASE)
    if lines is None:
        pytest.skip(f"not a git checkout with {BASE} in its history (shallow clone?)")
    long = too_long(lines)
    assert not long, (f"commit subjects over {MAX_SUBJECT} characters (put the detail in the body): "
                      + "; ".join(f"{line[:90]}... ({len(line.partition(' ')[2])})" for line in long))


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_a_long_subject_is_found_and_a_missing_base_skips(tmp_path):
    def commit(subject: str) -> str:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                        "commit", "-q", "--allow-empty", "-m", subject, "-m", "body"], check=True)
        return git(tmp_path, "rev-parse", "HEAD").stdout.strip()

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    base = commit("base")
    commit("x" * MAX_SUBJECT)
    commit("y" * (MAX_SUBJECT + 1))
    lines = history_after(tmp_path, base)
    assert lines is not None and len(lines) == 2
    assert [line.partition(" ")[2] for line in too_long(lines)] == ["y" * (MAX_SUBJECT + 1)]
    assert history_after(tmp_path, "0" * 40) is None
    assert history_after(tmp_path / "nowhere", base) is None
