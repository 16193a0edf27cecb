"""Catalog templates filled from values, and requirement names: what the planners build words with."""
from __future__ import annotations

import re
from typing import Any


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[=<>!~;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def fill(templates: list[str], values: dict[str, Any]) -> list[str]:
    words = []
    for template in templates:
        for name, value in values.items():
            template = template.replace("{" + name + "}", str(value))
        words.append(template)
    return words
