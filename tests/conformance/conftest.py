"""The conformance tier (`make test-conformance`): what the catalog renders, read by the pinned
engines' own code. Not part of `make test` (pyproject's testpaths): the first run builds the
engines' environments (minutes, a few GB, cached under ~/.cache/glmstack-conformance)."""

from __future__ import annotations

from conformance_units import SUMMARY


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("conformance")
        for line in SUMMARY:
            terminalreporter.write_line(line)
