"""The lock file: which commit of each hub model an inventory deploys, and every file's size and sum.

`glmstack lock INVENTORY` writes it beside the inventory (inventory/cpu.py -> inventory/cpu.lock.json),
one entry per (model, source, include/exclude patterns), sorted, meant to be reviewed and committed.
The planner (roles/model/plan.py) reads it: a hub source without a commit in host data takes the
lock's commit, files and entry shard; a model the lock does not hold is "not locked" (the plan shows
it; the deploy refuses it); an explicit model_revision must agree with the lock.

This module holds the format only; glmstack.locking asks the hubs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from glmstack.hostdata import InventoryError

LOCK_VERSION = 1
# Each hub's default branch: what a model is locked from when its source names no branch or tag.
DEFAULT_REF = {"hf": "main", "modelscope": "master"}


def lock_path(inventory: str | Path) -> Path:
    """inventory/cpu.py -> inventory/cpu.lock.json (an Ansible inventory file or folder: NAME.lock.json)."""
    path = Path(inventory)
    name = path.name.rstrip("/")
    stem = path.stem if path.suffix in (".py", ".ini", ".yml", ".yaml") else name
    return path.with_name(f"{stem}.lock.json")


@dataclass(frozen=True)
class LockedFile:
    path: str
    size: int
    sha256: str | None  # the LFS sha256 (Hugging Face), or ModelScope's sha256 of every file
    git_blob: str | None = None  # a small Hugging Face file outside LFS: its git blob id

    def as_dict(self) -> dict:
        data: dict = {"path": self.path, "size": self.size}
        if self.sha256 is not None:
            data["sha256"] = self.sha256
        if self.git_blob is not None:
            data["git_blob"] = self.git_blob
        return data


@dataclass(frozen=True)
class LockEntry:
    model: str
    source: str  # hf://org/repo or modelscope://org/repo
    ref: str  # the branch or tag it was locked from (or the commit itself when host data pins one)
    commit: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    entry: str | None  # the file the engine loads (a GGUF's first shard), when the lock chose it
    files: tuple[LockedFile, ...]
    digest: str = ""  # of everything above: an entry edited by hand no longer matches it

    @property
    def key(self) -> tuple:
        return (self.model, self.source, self.include, self.exclude)

    @property
    def total(self) -> int:
        return sum(item.size for item in self.files)

    def content(self) -> dict:
        return {"model": self.model, "source": self.source, "ref": self.ref, "commit": self.commit,
                "include": list(self.include), "exclude": list(self.exclude), "entry": self.entry,
                "total_bytes": self.total, "files": [item.as_dict() for item in self.files]}

    def computed_digest(self) -> str:
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True).encode()).hexdigest()

    def sealed(self) -> LockEntry:
        files = tuple(sorted(self.files, key=lambda item: item.path))
        entry = LockEntry(self.model, self.source, self.ref, self.commit, self.include, self.exclude, self.entry,
                          files)
        return LockEntry(**{**entry.__dict__, "digest": entry.computed_digest()})

    def as_dict(self) -> dict:
        return {**self.content(), "digest": self.digest}

    def files_json(self) -> str:
        """What the host's download checker reads instead of listing the hub (verify_hub.py --locked)."""
        return json.dumps([item.as_dict() for item in self.files], indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> LockEntry:
        files = tuple(LockedFile(str(item["path"]), int(item["size"]), item.get("sha256"), item.get("git_blob"))
                      for item in data["files"])
        return cls(str(data["model"]), str(data["source"]), str(data["ref"]), str(data["commit"]),
                   tuple(data.get("include", [])), tuple(data.get("exclude", [])), data.get("entry"), files,
                   str(data.get("digest", "")))


@dataclass
class Lock:
    """An inventory's lock file as read (empty when it does not exist yet). `required`: the deploy's
    reading, where a model missing from it is refused; else (plan, lock) it is only reported."""

    inventory: str
    entries: dict[tuple, LockEntry] = field(default_factory=dict)
    required: bool = False
    exists: bool = False

    @property
    def path(self) -> Path:
        return lock_path(self.inventory)

    @property
    def command(self) -> str:
        return f"glmstack lock {self.inventory}"

    def find(self, model: str, source: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> LockEntry | None:
        return self.entries.get((model, source, tuple(include), tuple(exclude)))

    def of_model(self, model: str) -> list[LockEntry]:
        return [entry for entry in self.entries.values() if entry.model == model]


def read_lock(inventory: str | Path, required: bool = False) -> Lock:
    """The lock beside the inventory; a file that is not a lock this version wrote is one line."""
    path = lock_path(inventory)
    lock = Lock(str(inventory), required=required)
    if not path.is_file():
        return lock
    try:
        data = json.loads(path.read_text())
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"version {data.get('version')!r}, this glmstack reads version {LOCK_VERSION}")
        entries = [LockEntry.from_dict(item) for item in data["models"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InventoryError(f"lock {path}: cannot be read ({error}); run {lock.command} --upgrade to "
                             "write it again") from None
    lock.entries = {entry.key: entry for entry in entries}
    lock.exists = True
    return lock


def lock_text(entries: list[LockEntry]) -> str:
    models = [entry.as_dict() for entry in sorted(entries, key=lambda entry: (entry.model, entry.source,
                                                                                 entry.include, entry.exclude))]
    return json.dumps({"version": LOCK_VERSION,
                       "comment": "Written by `glmstack lock`: review and commit it; change it only with "
                                  "`glmstack lock --upgrade`.",
                       "models": models}, indent=2) + "\n"
