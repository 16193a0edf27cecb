"""The weights part of a bundle (`glmstack bundle --weights`): each model's pinned files, checked
against their pinned sums (host data's model_files for a mirror, the inventory's lock for a hub), in
`weights/<model>-<key>/` where the key names exactly those files and sums, so hosts sharing a model
share one copy.

Downloads are kept in the bundle's cache by their pinned sum (`weights/sha256/<sum>`, or
`weights/git-blob/<id>` for a small hub file outside LFS): a file whose sum matches is never
downloaded again. The hub's own client fetches from Hugging Face (huggingface_hub, as the lock reads
it); ModelScope by the route its client downloads from; a mirror with one GET a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmstack.bundle import WEIGHTS, BundleError, bundle_source, files_under, host_needs, read_manifest
from glmstack.digests import BLOCK
from roles.model.plan import MODELSCOPE_ENDPOINT, hub_token

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan
    from roles.model.plan import ModelPlan


@dataclass(frozen=True)
class PinnedFile:
    """One file of a model as pinned: by sha256, or (a small hub file outside LFS) by its git blob id."""

    name: str
    sha256: str | None
    git_blob: str | None = None
    size: int | None = None

    @property
    def cache_name(self) -> str:
        return f"sha256/{self.sha256}" if self.sha256 else f"git-blob/{self.git_blob}"


def pinned_files(model: ModelPlan) -> list[PinnedFile] | None:
    """The model's files and their pinned sums, or None when nothing pins them (a hub model not locked)."""
    if model.kind in ("hf", "modelscope"):
        if model.locked is None:
            return None
        return sorted((PinnedFile(item.path, item.sha256, item.git_blob, item.size) for item in model.locked.files),
                      key=lambda item: item.name)
    if model.kind == "http":
        return [PinnedFile(name, digest) for name, digest in model.files]
    return None


def takes_weights(plan: DeployPlan) -> bool:
    """Whether a bundle made with --weights carries this host's weights: every host that fetches them
    from the source. A host receiving them from another (model_fetch_from, a multi-node deployment's
    rank 0) receives them from it as without a bundle; a path on the host is not fetched at all."""
    return plan.weights_seed is None and not plan.rpc_worker and plan.model.kind in ("hf", "modelscope", "http")


def weights_part(model_name: str, pinned: list[PinnedFile]) -> str:
    """The model's directory in a bundle: named by the model and a digest of its files and sums."""
    listing = [[item.name, item.sha256, item.git_blob, item.size] for item in sorted(pinned, key=lambda i: i.name)]
    key = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return f"{WEIGHTS}/{model_name}-{key}"


def expected_part(plan: DeployPlan) -> str | None:
    pinned = pinned_files(plan.model)
    return weights_part(plan.config.model, pinned) if pinned is not None and takes_weights(plan) else None


def bundled_files(plan: DeployPlan, document: dict[str, Any], part: str) -> list[dict[str, Any]]:
    """The host's weights in the bundle's manifest, each with its pinned sums; BundleError when they
    are not exactly the files host data (or the lock) pins, in one line."""
    expected = expected_part(plan)
    if part != expected:
        why = ("host data pins other files or sums now (model_files or the lock changed since it was made)"
               if expected else "this host takes none from it")
        raise BundleError(f"its weights are {part}, {why}; make it again with glmstack bundle INVENTORY OUT --weights")
    pinned = {item.name: item for item in pinned_files(plan.model) or []}
    found = {path[len(part) + 1:]: entry for path, entry in files_under(document, [part]).items()}
    for name in sorted(set(pinned) | set(found)):
        item, entry = pinned.get(name), found.get(name)
        if item is None or entry is None:
            raise BundleError(f"{part}/{name}: {'not pinned by host data or the lock' if item is None else 'missing'} "
                              "in the bundle's manifest; make it again with glmstack bundle INVENTORY OUT --weights")
        if (item.sha256 and entry["sha256"] != item.sha256) or (item.size is not None and entry["size"] != item.size):
            raise BundleError(f"{part}/{name}: the manifest's sha256 is not the pinned one; make it again with "
                              "glmstack bundle INVENTORY OUT --weights")
    return [{"name": name, "sha256": found[name]["sha256"], "git_blob": pinned[name].git_blob}
            for name in sorted(pinned)]


def inventory_problems(plans: list[DeployPlan]) -> list[str]:
    """Error lines for hosts whose bundle (a directory on this machine) carries weights other than
    those host data pins: checked when the inventory loads. An http(s) bundle is checked at deploy."""
    errors, documents = [], {}
    for plan in plans:
        if plan.config.bundle is None or bundle_source(plan.config.bundle).kind != "path":
            continue
        try:
            document = documents.get(plan.config.bundle) or read_manifest(Path(plan.config.bundle))
            documents[plan.config.bundle] = document
            part = host_needs(document, plan.host).weights if plan.host in document["hosts"] else None
            if part:
                bundled_files(plan, document, part)
        except BundleError as error:
            errors.append(f"host {plan.host}: field bundle: {error}")
    return errors


# ---- making the part


def digests(path: Path, with_blob: bool) -> tuple[str, str | None]:
    """sha256 of the file and, when asked, its git blob id, in one read."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % path.stat().st_size) if with_blob else None  # noqa: S324 - git's id
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            sha256.update(block)
            if blob is not None:
                blob.update(block)
    return sha256.hexdigest(), blob.hexdigest() if blob is not None else None


class WeightsCache:
    """The downloads, by pinned sum; a record of what was verified (name -> size, mtime, sha256), so a
    second run neither downloads nor reads a file again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.record_path = root / "verified.json"
        try:
            self.record = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            self.record = {}

    def path(self, item: PinnedFile) -> Path:
        return self.root / item.cache_name

    def verified(self, item: PinnedFile) -> str | None:
        """The file's sha256 when the cache holds it with its pinned sum, else None (nothing kept)."""
        path = self.path(item)
        if not path.is_file():
            return None
        stat = path.stat()
        known = self.record.get(item.cache_name)
        if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
            return known[2]
        return self.check(item, path)

    def check(self, item: PinnedFile, path: Path) -> str | None:
        stat = path.stat()
        if item.size is not None and stat.st_size != item.size:
            return None
        sha256, blob = digests(path, item.sha256 is None)
        if (item.sha256 or item.git_blob) != (sha256 if item.sha256 else blob):
            return None
        self.record[item.cache_name] = [stat.st_size, stat.st_mtime_ns, sha256]
        self.save()  # a rename keeps size and mtime: the file checked as .partial is recorded
        return sha256

    def save(self) -> None:
        partial = self.record_path.with_suffix(".partial")
        partial.write_text(json.dumps(self.record, indent=1, sort_keys=True) + "\n")
        partial.replace(self.record_path)


def _get(url: str, dest: Path, token: str | None = None) -> None:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer, open(dest, "wb") as out:  # noqa: S310 - host data's
            shutil.copyfileobj(answer, out, BLOCK)
    except (OSError, urllib.error.URLError) as error:
        raise BundleError(f"could not fetch {url}: {getattr(error, 'reason', error)}") from None


def download(model: ModelPlan, item: PinnedFile, dest: Path, staging: Path) -> None:
    """One file from the model's source into dest, by the tool the deploy's own fetch uses."""
    if model.kind == "hf":
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        repo = model.source.split("://", 1)[1]
        local = staging / "hf" / repo.replace("/", "--") / str(model.revision)
        try:
            got = hf_hub_download(repo, item.name, revision=model.revision, local_dir=local,
                                  endpoint=model.endpoint, token=hub_token(model.token_file, BundleError) or False)
        except (HfHubHTTPError, OSError) as error:
            raise BundleError(f"could not fetch {item.name} from {model.source}@{model.revision}: "
                              f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
        os.replace(got, dest)
    elif model.kind == "modelscope":
        base = (model.endpoint or MODELSCOPE_ENDPOINT).rstrip("/")
        repo = model.source.split("://", 1)[1]
        query = urllib.parse.urlencode({"Revision": model.revision, "FilePath": item.name})
        _get(f"{base}/api/v1/models/{repo}/repo?{query}", dest, hub_token(model.token_file, BundleError))
    else:
        _get(f"{model.source}/{urllib.parse.quote(item.name)}", dest)


def write_weights(out: Path, plans: list[DeployPlan], cache: Path, inventory: str,
                  log: Callable[[str], None] = print) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """weights/<model>-<key>/ for every host that fetches its weights from the source: (host -> its
    part, the parts' files -> sha256 and size, for the manifest). Each file is a hard link to the cache
    (a copy across file systems); a file whose pinned sum does not match stops it, in one line."""
    store = WeightsCache(cache / "weights")
    staging = cache / "weights" / "staging"
    for folder in ("sha256", "git-blob"):
        (store.root / folder).mkdir(parents=True, exist_ok=True)
    by_host: dict[str, str] = {}
    known: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    for plan in plans:
        if plan.model.kind == "graft":
            raise BundleError(f"host {plan.host}: field model: {plan.config.model} is grafted on the host from two "
                              "checkpoints; --weights does not carry grafted models: leave it out")
        if not takes_weights(plan):
            continue
        pinned = pinned_files(plan.model)
        if pinned is None:
            raise BundleError(f"host {plan.host}: field model_revision: {plan.model.source} ({plan.config.model}) "
                              f"has no pinned sums to check the weights with; run glmstack lock {inventory} first")
        part = weights_part(plan.config.model, pinned)
        by_host[plan.host] = part
        if part in done:
            continue  # another host's model: one copy
        pin = (f"the lock's sums ({plan.model.source}@{plan.model.revision})" if plan.model.locked
               else "host data's model_files")
        total = sum(item.size or 0 for item in pinned)
        log(f"weights: {plan.config.model}, {len(pinned)} files{f', {total / 1e9:.2f} GB' if total else ''}, "
            f"checked against {pin}")
        for item in pinned:
            cached = store.path(item)
            sha256 = store.verified(item)
            if sha256 is None:
                partial = cached.with_name(cached.name + ".partial")
                partial.unlink(missing_ok=True)
                download(plan.model, item, partial, staging)
                sha256 = store.check(item, partial)
                if sha256 is None:
                    partial.unlink()
                    raise BundleError(f"weights {plan.config.model}: {item.name} from {plan.model.source} does not "
                                      f"match {pin}; removed: run glmstack bundle again, or if the source "
                                      f"changed, pin it anew (model_files, or glmstack lock {inventory} --upgrade)")
                partial.replace(cached)  # the same inode: the record of its check holds
            dest = out / part / item.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.unlink(missing_ok=True)
            try:
                os.link(cached, dest)
            except OSError:
                shutil.copyfile(cached, dest)
            known[f"{part}/{item.name}"] = {"sha256": sha256, "size": dest.stat().st_size}
        done.add(part)
    shutil.rmtree(staging, ignore_errors=True)
    return by_host, known
