"""systemd's own score of a unit's sandbox, read on a lab node (`systemd-analyze security`)."""

from __future__ import annotations

import re

_OVERALL = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")


def exposure(host, unit: str) -> float:
    """The overall exposure level (0 safest .. 10) systemd gives UNIT on the node HOST (a testinfra
    host), as loaded there: the installed unit file, whether or not it is running."""
    result = host.run(f"systemd-analyze security --no-pager {unit}")
    found = _OVERALL.search(result.stdout)
    assert found, f"systemd-analyze security {unit}: {result.stdout[-500:]} {result.stderr[-500:]}"
    return float(found.group(1))
