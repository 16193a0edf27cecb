"""`glmstack lock`: ask each hub, with its own client and the hosts' endpoint and token, which commit
each model's branch or tag points to now and what files (sizes, sums) the deploy would fetch there;
write them to the inventory's lock file (glmstack.lock).

Hugging Face through huggingface_hub's HfApi (model_info for the commit, list_repo_tree for every
file with its LFS sha256 or git blob id). ModelScope through its HTTP API, the routes its client
(modelscope-hub) calls: the file list at a revision carries each file's sha256 and the commit. The
include/exclude patterns are applied by the deploy's own checker (roles/model/files/verify_hub.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from glmstack.catalog import COMMIT_SHA, load_catalog
from glmstack.hostdata import InventoryError
from glmstack.inventory import ignoring_lock
from glmstack.lock import DEFAULT_REF, Lock, LockedFile, LockEntry, lock_text, read_lock
from glmstack.paths import REPO_ROOT
from glmstack.planning import inventory_hosts
from glmstack.resolve import resolve_inventory
from roles.model.plan import MODELSCOPE_ENDPOINT, hub_token

VERIFY_HUB = REPO_ROOT / "roles" / "model" / "files" / "verify_hub.py"
SPLIT_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


class LockError(InventoryError):
    """A hub that cannot say what to lock: one line naming the model and the hub."""


@dataclass
class Wanted:
    """One (model, source, patterns) the inventory needs, with what the hosts say about it."""

    model: str
    kind: str
    repo: str
    ref: str
    pinned: str | None  # a commit host data gives
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    endpoint: str | None
    token_file: Path | None
    pick_entry: bool  # a GGUF whose entry file neither host data nor the catalog names
    hosts: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"{self.kind}://{self.repo}"

    @property
    def key(self) -> tuple:
        return (self.model, self.source, self.include, self.exclude)


def _selector():
    """The deploy's own selection (the checker the hosts run), loaded from its file."""
    name = "glmstack_verify_hub"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, VERIFY_HUB)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name].selected


def wanted_models(inventory: str | Path) -> dict[tuple, Wanted]:
    """Every hub model the inventory's hosts fetch (a grafted model's base and delta too)."""
    catalog = load_catalog()
    with ignoring_lock():
        hosts = inventory_hosts(inventory)
    plans = resolve_inventory(hosts, require_fit=False, lock=Lock(str(inventory)))
    wanted: dict[tuple, Wanted] = {}
    for plan in plans:
        parts = ([plan.model.graft.base, plan.model.graft.delta] if plan.model.graft
                 else [(plan.config.model, plan.model)])
        for name, part in parts:
            if part.kind not in ("hf", "modelscope"):
                continue
            repo = part.source.split("://", 1)[1]
            pinned = part.revision if part.locked is None else None
            entry_named = part.entry is not None and (part.locked is None or part.entry != part.locked.entry)
            item = Wanted(name, part.kind, repo, part.ref or pinned or DEFAULT_REF[part.kind], pinned, part.include,
                          part.exclude, part.endpoint, part.token_file,
                          catalog.models[name].format == "gguf" and not entry_named)
            item = wanted.setdefault(item.key, item)
            item.hosts.append(plan.host)
    return wanted


def _hf_listing(item: Wanted) -> tuple[str, list[LockedFile]]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=item.endpoint, token=hub_token(item.token_file, LockError) or False)
    commit = item.pinned or api.model_info(item.repo, revision=item.ref).sha
    files = [LockedFile(entry.path, entry.size, entry.lfs.sha256 if entry.lfs is not None else None,
                        None if entry.lfs is not None else entry.blob_id)
             for entry in api.list_repo_tree(item.repo, revision=commit, recursive=True)
             if isinstance(entry, RepoFile)]
    return commit, files


def _modelscope_get(item: Wanted, path: str, query: dict) -> dict:
    base = (item.endpoint or MODELSCOPE_ENDPOINT).rstrip("/")
    request = urllib.request.Request(f"{base}{path}?{urllib.parse.urlencode(query)}")
    token = hub_token(item.token_file, LockError)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the host's endpoint
            body = json.load(answer)
    except urllib.error.HTTPError as error:
        try:
            message = json.load(error).get("Message", error.reason)
        except ValueError:
            message = error.reason
        raise LockError(f"{item.source} ({item.model}): {base} answered {error.code}: {message}") from None
    return body.get("Data") or {}


def _modelscope_listing(item: Wanted) -> tuple[str, list[LockedFile]]:
    path = f"/api/v1/models/{item.repo}/repo/files"

    def listing(revision: str) -> list[dict]:
        data = _modelscope_get(item, path, {"Revision": revision, "Recursive": "true"})
        return [entry for entry in data.get("Files", []) if entry.get("Type") != "tree"]

    entries = listing(item.pinned or item.ref)
    commit = item.pinned or next((entry.get("Revision") for entry in entries if entry.get("Revision")), None)
    if not commit:
        commit = _modelscope_get(item, f"/api/v1/models/{item.repo}", {"Revision": item.ref}).get("Revision")
    if not commit or not COMMIT_SHA.match(commit):
        raise LockError(f"{item.source} ({item.model}): the hub gave no commit for {item.ref!r}")
    if commit != item.ref:
        entries = listing(commit)  # the files of that commit, even if the branch moves meanwhile
    return commit, [LockedFile(entry["Path"], int(entry["Size"]), entry.get("Sha256")) for entry in entries]


def entry_shard(paths: list[str], item: Wanted) -> str:
    """The file the engine loads: the one GGUF selected, or the first shard of the one split selected."""
    ggufs = sorted(path for path in paths if path.endswith(".gguf"))
    candidates = [path for path in ggufs if not SPLIT_SHARD.search(path) or int(SPLIT_SHARD.search(path)[1]) == 1]
    if len(candidates) == 1:
        return candidates[0]
    what = ", ".join(candidates[:5]) if candidates else "no .gguf file"
    raise LockError(f"{item.source} ({item.model}) at the patterns {list(item.include)}: {what}; narrow "
                    "model_include to one quant, or name the file in model_entry")


def resolve_entry(item: Wanted) -> LockEntry:
    """Ask the hub: the commit and every file the deploy would fetch there, with its size and sum."""
    try:
        commit, files = _modelscope_listing(item) if item.kind == "modelscope" else _hf_listing(item)
    except LockError:
        raise
    except OSError as error:
        raise LockError(f"{item.source} ({item.model}): {item.endpoint or 'the hub'}: {error}") from None
    except Exception as error:  # noqa: BLE001 - the hub client's errors, as one line
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LockError(f"{item.source} ({item.model}): {type(error).__name__}: {message}") from None
    names = _selector()([entry.path for entry in files], list(item.include), list(item.exclude), item.kind)
    chosen = [entry for entry in files if entry.path in names]
    if not chosen:
        raise LockError(f"{item.source}@{commit} ({item.model}): no file matches include {list(item.include)} "
                        f"exclude {list(item.exclude)}")
    entry = entry_shard([entry.path for entry in chosen], item) if item.pick_entry else None
    return LockEntry(item.model, item.source, item.ref, commit, item.include, item.exclude, entry,
                     tuple(chosen)).sealed()


@dataclass
class LockResult:
    entries: list[LockEntry]
    changes: list[str]  # what moved, in words
    problems: list[str]  # --check: why the lock no longer matches
    text: str


def lock_inventory(inventory: str | Path, upgrade: bool = False, only: str | None = None,
                   check: bool = False) -> LockResult:
    """The inventory's lock: entries kept as they are unless `upgrade` (all, or the model `only`), new
    ones resolved. With `check`, nothing is kept: every entry is asked again and compared."""
    old = read_lock(inventory)
    wanted = wanted_models(inventory)
    if only is not None and only not in {item.model for item in wanted.values()}:
        raise LockError(f"{only} is not a hub model of {inventory}; its models: "
                        f"{', '.join(sorted({item.model for item in wanted.values()})) or 'none'}")
    entries, changes, problems = [], [], []
    if check and not old.exists:
        problems.append(f"{old.path} does not exist: run {old.command}")
    for key, item in sorted(wanted.items()):
        before = old.entries.get(key)
        move = upgrade and (only is None or only == item.model)
        if before is not None and before.ref != item.ref:
            move = True  # host data now names another branch, tag or commit
        if before is not None and not move and not check:
            entries.append(before)
            continue
        now = resolve_entry(item)
        entries.append(now if before is None or move or not check else before)
        label = f"{item.model} ({item.source})"
        if before is None:
            changes.append(f"+ {label}: {now.ref} at {now.commit}, {len(now.files)} files, {now.total / 1e9:,.2f} GB"
                           + (f", entry {now.entry}" if now.entry else ""))
            if check:
                problems.append(f"{label} is not locked: run {old.command}")
        elif before.commit != now.commit or before.digest != now.digest:
            changes.append(f"~ {label}: {before.commit[:12]} -> {now.commit[:12]} ({now.ref})")
            if check:
                problems.append(f"{label}: {now.ref} is at {now.commit}, the lock has {before.commit}: run "
                                f"{old.command} --upgrade {item.model}")
    for key, before in sorted(old.entries.items()):
        if key not in wanted:
            changes.append(f"- {before.model} ({before.source}): no host fetches it any more")
            if check:
                problems.append(f"{before.model} ({before.source}) is locked but no host fetches it: run {old.command}")
    return LockResult(entries, changes, problems, lock_text(entries))
