"""Settings tables for the README, generated from the typed role defaults (kept in sync by a test).

    python -m glmstack.docs
"""

from __future__ import annotations

from pydantic import BaseModel

from glmstack.hostdata import DeploymentSettings
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
    return "\n\n".join(f"#### {title}\n\n{settings_table(model)}" for title, model in SECTIONS)


if __name__ == "__main__":
    print(all_tables())
