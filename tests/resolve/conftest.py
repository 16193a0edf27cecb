"""The resolve tier's report: what resolved to what, what stood in, what was skipped and why."""

from __future__ import annotations

import json

from resolve_uv import CACHE, KEY_PACKAGES, REPORT


def pytest_terminal_summary(terminalreporter):
    if not REPORT:
        return

    write = terminalreporter.write_line
    terminalreporter.section("engine environments (resolve tier)")
    counts: dict[str, int] = {}
    for name, row in sorted(REPORT.items()):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        pins = " ".join(f"{package} {row['pins'][package]}" for package in KEY_PACKAGES if package in row["pins"])
        took = "cached" if row["cached"] else f"{row['seconds']:.1f}s"
        write(f"{row['status']:9} {name} [{took}] {pins or row['message'].splitlines()[0]}")
        for note in row["stand_ins"]:
            write(f"          stand-in: {note}")
    tally = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    write(f"{tally} of {len(REPORT)} environments")
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "last-report.json").write_text(json.dumps(REPORT, indent=1, sort_keys=True))
