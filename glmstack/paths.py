"""Where the collection's own files live, found from this package, never from the caller's cwd."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A checkout's deploys/ (what `pyinfra inventory/x.py deploys/glm52.py` runs); a wheel carries the same
# files inside the package (glmstack/deploys, a link to deploys/ in a checkout).
DEPLOYS = REPO_ROOT / "deploys" if (REPO_ROOT / "deploys").is_dir() else Path(__file__).resolve().parent / "deploys"
CATALOG = Path(__file__).resolve().parent / "catalog"
