"""The model role's plan, the weights plan: where the weights come from and how they are checked
(ModelPlan), or how a grafted model is made from two downloaded checkpoints (GraftPlan)."""

from __future__ import annotations

import hashlib
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from glmstack.catalog import COMMIT_SHA
from glmstack.checks import credentials_in_url, relative_inside
from glmstack.fill import fill
from glmstack.quoting import shown

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.hostdata import HostConfig
    from glmstack.lock import Lock, LockEntry


HUB_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
HF_CLI_PACKAGE = "huggingface_hub==2.4.0"
# modelscope 1.40 is the hub client modelscope-hub plus plugins; its `modelscope download` comes from
# modelscope-hub, pinned here on its own.
MODELSCOPE_CLI_PACKAGE = "modelscope-hub==0.5.1"
# Where the ModelScope client downloads from when the host data names no endpoint (its default).
MODELSCOPE_ENDPOINT = "https://www.modelscope.cn"


def hub_token(path: Path | None, error: type[Exception]) -> str | None:
    """A hub token from its file (host data's token_file), for a request on the control machine
    alone: never printed or written. A file others may read is refused with `error`."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise error(f"{path}: a token file must be readable by its owner only (chmod 600)")
    return path.read_text().strip()


@dataclass(frozen=True)
class HubClient:
    """A hub's own download client, run on the node from a uv environment of its own."""

    package: str
    venv: str  # under <prefix>/venvs
    command: str
    endpoint_variable: str
    token_name: str  # the token's file in the config directory


HUB_CLIENTS = {
    "hf": HubClient(HF_CLI_PACKAGE, "hf", "hf", "HF_ENDPOINT", "hf-token"),
    "modelscope": HubClient(MODELSCOPE_CLI_PACKAGE, "modelscope", "modelscope", "MODELSCOPE_ENDPOINT",
                            "modelscope-token"),
}


@dataclass(frozen=True)
class GraftPlan:
    """Weights the host makes from two downloaded checkpoints with the delta's own script."""

    base: tuple[str, ModelPlan]  # (model id, how it is fetched)
    delta: tuple[str, ModelPlan]
    script: str
    arguments: tuple[str, ...]
    index_prefix: str
    config_key: str

    def command(self, out: str) -> list[str]:
        values = {"base": self.base[1].directory, "delta": self.delta[1].directory, "out": out}
        return ["/bin/bash", posixpath.join(self.delta[1].directory, self.script), *fill(list(self.arguments), values)]


@dataclass(frozen=True)
class ModelPlan:
    kind: Literal["hf", "modelscope", "http", "path", "graft"]
    source: str
    directory: str
    entry: str | None
    revision: str | None = None
    include: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    token_file: Path | None = None
    exclude: tuple[str, ...] = ()
    endpoint: str | None = None
    graft: GraftPlan | None = None
    # A hub source read with the inventory's lock file: the branch or tag it is locked from, the
    # lock's entry (its commit, files and sums: the deploy checks the download against them without
    # listing the hub), and, in `glmstack plan` only, True for a model the lock does not hold yet.
    ref: str | None = None
    locked: LockEntry | None = None
    unlocked: bool = False

    @property
    def entry_path(self) -> str:
        """What the engine is given: the entry file (GGUF), or the checkpoint directory."""
        return posixpath.join(self.directory, self.entry) if self.entry else self.directory

    @property
    def fingerprint(self) -> str:
        """Identifies exactly which bytes are wanted; a ready marker holding it means done."""
        parts = [self.kind, self.source, self.directory, self.entry or "", self.revision or "", *self.include,
                 *(f"{name}={digest}" for name, digest in self.files), *(f"!{pattern}" for pattern in self.exclude)]
        if self.graft is not None:
            parts += [self.graft.base[1].fingerprint, self.graft.delta[1].fingerprint, self.graft.script,
                      *self.graft.arguments]
        if self.locked is not None:
            parts.append(f"locked={self.locked.digest}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# A model file's name, as it reaches the weights script and the mirror's URLs: path parts of safe
# characters, none empty, "." or "..", none starting with "-"; .cache/ is glmstack's and the hub
# client's own.
MODEL_FILE_NAME = re.compile(r"(?!\.cache/)(?!(?:[^/]*/)*\.\.?(?:/|$))"
                             r"[A-Za-z0-9._+@=,][A-Za-z0-9._+@=,-]*(?:/[A-Za-z0-9._+@=,][A-Za-z0-9._+@=,-]*)*")


def plan_graft(config: HostConfig, catalog: Catalog, problems: list, lock: Lock | None = None) -> ModelPlan | None:
    """The base as the host's model settings describe it; the delta from the catalog, pinned by
    model_graft_revision; both in their own directories, the merged checkpoint in the model's."""
    graft = catalog.models[config.model].graft
    base = plan_model(config.model_copy(update={"model": graft.base, "model_dir": None, "model_graft_revision": None}),
                       catalog, problems, lock)
    delta_problems: list = []
    delta = plan_model(config.model_copy(update={
        "model": graft.delta, "model_source": None, "model_revision": config.model_graft_revision,
        "model_include": None, "model_exclude": [], "model_files": {}, "model_entry": None, "model_dir": None,
        "model_graft_revision": None,
    }), catalog, delta_problems, lock)
    problems += [("model_graft_revision", f"{graft.delta} (the graft's delta): "
                                          f"{text.replace('set model_revision', 'set model_graft_revision')}"
                                          .replace("in host data", "in host data (model_graft_revision)"))
                 if name == "model_revision" else (name, f"{graft.delta} (the graft's delta): {text}")
                 for name, text in delta_problems]
    if config.model_fetch_from is not None:
        problems.append(("model_fetch_from", f"{config.model} is grafted on each host; it cannot be passed on"))
    if base is None or delta is None or problems:
        return None
    directory = config.model_dir or posixpath.join(config.base_state_dir, "models", config.model)
    plan = GraftPlan((graft.base, base), (graft.delta, delta), graft.script, tuple(graft.arguments),
                     graft.index_prefix, graft.config_key)
    return ModelPlan("graft", f"graft of {graft.delta} onto {graft.base}", directory, None, graft=plan)


def plan_model(config: HostConfig, catalog: Catalog, problems: list, lock: Lock | None = None) -> ModelPlan | None:
    """`lock`: the inventory's lock file (None: host data alone pins hub sources, as before locks)."""
    model = catalog.models[config.model]
    if model.graft is not None:
        return plan_graft(config, catalog, problems, lock)
    if config.model_graft_revision is not None:
        grafted = sorted(name for name, each in catalog.models.items() if each.graft)
        problems.append(("model_graft_revision", f"{config.model} is not grafted; models that are: "
                                                 f"{', '.join(grafted)}"))
        return None
    source = config.model_source or model.source
    if credentials_in_url(source):
        problems.append(("model_source", "credentials in a URL end up in command lines and logs; give the "
                                         "mirror without them (tokens go in model_hf_token_file or "
                                         "model_modelscope_token_file)"))
        return None
    directory = config.model_dir or posixpath.join(config.base_state_dir, "models", config.model)
    files = tuple(sorted(config.model_files.items()))
    for name, digest in files:
        if not relative_inside(name):
            problems.append(("model_files", f"{shown(name)} must be a relative path inside the model directory"))
        elif not MODEL_FILE_NAME.fullmatch(name):
            problems.append(("model_files", f"{shown(name)}: a file name is a normalised relative path of letters, "
                                            "digits and . _ + - @ = , (not starting with - or .cache/, no empty, "
                                            ". or .. parts)"))
        if not (len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            problems.append(("model_files", f"{name!r}: sha256 must be 64 lowercase hex digits"))
    if problems:
        return None  # everything below derives from these files
    entry = config.model_entry or model.entry
    if entry is None and model.format == "gguf" and len(files) == 1:
        entry = files[0][0]
    if entry is not None and not relative_inside(entry):
        problems.append(("model_entry", f"{entry!r} must be a relative path inside the model directory"))
        return None
    needs_entry = model.format == "gguf" and entry is None

    if source.startswith(("hf://", "modelscope://")):
        kind = "hf" if source.startswith("hf://") else "modelscope"
        repo, _, inline_revision = source.split("://", 1)[1].partition("@")
        if not HUB_REPO.match(repo):
            problems.append(("model_source", f"{source!r}: a hub source is {kind}://<org>/<repo>[@<commit>]"))
        ref = None
        if lock is not None and inline_revision and not COMMIT_SHA.match(inline_revision):
            ref, inline_revision = inline_revision, ""  # a branch or tag: `glmstack lock` resolves it
        revision = config.model_revision or inline_revision or model.revision
        include = tuple(config.model_include if config.model_include is not None else model.include)
        exclude = tuple(config.model_exclude)
        locked, unlocked = None, False
        if lock is not None and not problems:
            locked = _locked_entry(config.model, f"{kind}://{repo}", include, exclude, revision, lock, problems)
            if problems:
                return None  # the lock and host data disagree: that alone, not what follows from it
            if locked is not None:
                revision, entry = locked.commit, entry or locked.entry
                needs_entry = model.format == "gguf" and entry is None
            elif not revision and not problems:
                if lock.required:
                    problems.append(("model_revision", f"{kind}://{repo} ({config.model}) is not locked: "
                                                       f"run {lock.command}"))
                    return None
                unlocked = True  # the plan says so; the deploy refuses it
        if not revision and not unlocked:
            problems.append(("model_revision", f"{kind}://{repo} needs a pinned commit: set model_revision "
                                               "to a 40-character commit sha of the repository"))
        elif revision and not COMMIT_SHA.match(revision):
            problems.append(("model_revision", f"{revision!r} is not a 40-character commit sha"))
        if needs_entry and not unlocked:
            problems.append(("model_entry", "name the file the engine loads (for split GGUFs the "
                                            "-00001-of-N shard), relative to the model directory"))
        if problems:
            return None
        other = "modelscope" if kind == "hf" else "hf"
        for name in (f"model_{other}_endpoint", f"model_{other}_token_file"):
            if getattr(config, name) is not None:
                problems.append((name, f"only applies to {other}:// sources; model_source is {kind}://{repo}"))
        if problems:
            return None
        endpoint = getattr(config, f"model_{kind}_endpoint")
        return ModelPlan(kind, f"{kind}://{repo}", directory, entry, revision=revision, include=include,
                         files=files, token_file=getattr(config, f"model_{kind}_token_file"),
                         exclude=exclude, endpoint=endpoint.rstrip("/") if endpoint else None,
                         ref=ref, locked=locked, unlocked=unlocked)

    if source.startswith(("http://", "https://")):
        if not urlparse(source).netloc:
            problems.append(("model_source", f"{source!r} is not a URL with a host"))
        if not files:
            problems.append(("model_files", "an http(s) mirror needs every file with its sha256"))
        if needs_entry:
            problems.append(("model_entry", "name the file the engine loads"))
        elif entry is not None and files and entry not in dict(files):
            problems.append(("model_entry", f"{entry!r} is not one of model_files"))
        if problems:
            return None
        return ModelPlan("http", source.rstrip("/"), directory, entry, files=files)

    if source.startswith("/"):
        if needs_entry:
            problems.append(("model_entry", "name the file the engine loads"))
            return None
        return ModelPlan("path", source, source.rstrip("/") or "/", entry, files=files)

    problems.append(("model_source", f"{source!r}: allowed are hf://org/repo[@commit], modelscope://org/repo[@commit], "
                                     "http(s)://mirror/base, or an absolute path on the host"))
    return None


def _locked_entry(model: str, source: str, include: tuple[str, ...], exclude: tuple[str, ...],
                  revision: str | None, lock: Lock, problems: list) -> LockEntry | None:
    """The lock's entry for this model as host data asks for it, checked against host data; a lock
    that disagrees with it (another repository or model, another commit, an entry edited by hand) is
    a problem naming both."""
    found = lock.find(model, source, include, exclude)
    upgrade = f"run {lock.command} --upgrade {model}"
    if found is None:
        if not lock.required:
            return None
        other = next((entry for entry in lock.of_model(model)), None)
        if other is not None:
            what = (f"from {other.source}" if other.source != source else
                    f"with include {list(other.include)} exclude {list(other.exclude)}")
            problems.append(("model_source", f"{model} from {source} (include {list(include)} exclude "
                                             f"{list(exclude)}) in host data, the lock {lock.path} has {model} "
                                             f"{what}; {upgrade}"))
        elif (other := next((e for e in lock.entries.values() if e.source == source), None)) is not None:
            problems.append(("model", f"{model} in host data, the lock {lock.path} has {source} as {other.model}; "
                                      f"{upgrade}"))
        return None
    if found.digest != found.computed_digest():
        problems.append(("model_revision", f"the lock {lock.path} entry for {model} ({source}) does not match its "
                                           f"digest (edited by hand?); {upgrade}"))
        return None
    if revision and revision != found.commit:
        problems.append(("model_revision", f"{revision} in host data, the lock {lock.path} has {found.commit} for "
                                           f"{model} ({source}); {upgrade}, or drop one of the two"))
        return None
    return found
