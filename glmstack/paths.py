"""Where the collection's own files live, found from this package, never from the caller's cwd."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOYS = REPO_ROOT / "deploys"
CATALOG = Path(__file__).resolve().parent / "catalog"
