"""Check a hub download against the hub's own sums, on the node, with the hub client's Python.

    python verify_hub.py total  REPO COMMIT DIR [--include P ...] [--exclude P ...] [--source modelscope]
    python verify_hub.py verify REPO COMMIT DIR [--include P ...] [--exclude P ...] [--manifest PATH]
    ... [--locked FILES.json]: the files and sums `glmstack lock` recorded, instead of the hub's listing

The hub is Hugging Face's (the default) or ModelScope. `total` prints the bytes the selection
holds. `verify` checks every selected file: by the sha256 the hub lists (Hugging Face lists it for
LFS files, the others by their git blob id; ModelScope for every file); and that every shard a
safetensors index names is there. A file that does not match is removed with the client's record
of it, so the next download fetches it again; the exit status is 1 then. Files already verified,
unchanged since (same size and mtime), are not hashed again.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

BLOCK = 8 << 20
CACHE = os.path.join(".cache", "glmstack-verified.json")


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # None: a Hugging Face file outside LFS, known by its git blob id
    blob_id: str | None = None


def hugging_face_files(args: argparse.Namespace) -> list[RemoteFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    files = [item for item in HfApi().list_repo_tree(args.repo, revision=args.commit, recursive=True)
             if isinstance(item, RepoFile)]
    names = selected([item.path for item in files], args.include, args.exclude, "hf")
    return [RemoteFile(item.path, item.size, item.lfs.sha256 if item.lfs is not None else None, item.blob_id)
            for item in files if item.path in names]


def selected(paths: list[str], include: list[str], exclude: list[str], source: str) -> set[str]:
    """The paths a download with these patterns fetches, as the hub's own client selects them
    (`glmstack lock` selects with this too)."""
    if source == "hf":
        from huggingface_hub.utils import filter_repo_objects

        return set(filter_repo_objects(paths, allow_patterns=include or None, ignore_patterns=exclude or None))

    def matches(path: str, patterns: list[str]) -> bool:
        # As `modelscope download` selects: shell globs.
        return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)

    return {path for path in paths if (not include or matches(path, include)) and not matches(path, exclude)}


def locked_files(path: str) -> list[RemoteFile]:
    """The files and sums `glmstack lock` recorded (the deploy uploads them): no listing of the hub."""
    with open(path) as handle:
        return [RemoteFile(item["path"], item["size"], item.get("sha256"), item.get("git_blob"))
                for item in json.load(handle)]


def modelscope_files(args: argparse.Namespace) -> list[RemoteFile]:
    from modelscope_hub import HubApi

    files = [item for item in HubApi().list_repo_files(args.repo, "model", revision=args.commit, recursive=True)
             if not item.is_dir]
    names = selected([item.path for item in files], args.include, args.exclude, "modelscope")
    return [RemoteFile(item.path, item.size, item.sha256) for item in files if item.path in names]


def file_digest(path: str, item: RemoteFile) -> str:
    digest = hashlib.sha256() if item.sha256 is not None else hashlib.sha1(b"blob %d\0" % item.size)
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def expected_digest(item: RemoteFile) -> str:
    return item.sha256 if item.sha256 is not None else item.blob_id


def check(directory: str, item: RemoteFile, verified: dict) -> str | None:
    """None when the file is right, else what is wrong with it."""
    path = os.path.join(directory, item.path)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "missing"
    if stat.st_size != item.size:
        return f"{stat.st_size} bytes, the hub lists {item.size}"
    expected = expected_digest(item)
    if verified.get(item.path) == [stat.st_size, stat.st_mtime_ns, expected]:
        return None
    if file_digest(path, item) != expected:
        return "checksum mismatch"
    verified[item.path] = [stat.st_size, stat.st_mtime_ns, expected]
    return None


def forget(directory: str, name: str) -> None:
    """Remove a bad file and the client's record of it, so the next download fetches it again."""
    for path in (os.path.join(directory, name),
                 os.path.join(directory, name + ".incomplete"),  # ModelScope's partial file
                 os.path.join(directory, ".cache", "huggingface", "download", name + ".metadata")):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def incomplete_indexes(directory: str, names: set[str]) -> list[str]:
    problems = []
    for name in sorted(n for n in names if n.endswith(".safetensors.index.json")):
        with open(os.path.join(directory, name)) as handle:
            shards = set(json.load(handle).get("weight_map", {}).values())
        base = os.path.dirname(name)
        missing = sorted(s for s in shards if os.path.join(base, s) not in names)
        if missing:
            problems.append(f"{name} names shards the download does not hold: {', '.join(missing[:5])}")
    return problems


def verify(args: argparse.Namespace, files: list[RemoteFile]) -> int:
    cache_path = os.path.join(args.directory, CACHE)
    try:
        with open(cache_path) as handle:
            verified = json.load(handle)
    except (FileNotFoundError, ValueError):
        verified = {}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda item: (item.path, check(args.directory, item, verified)), files))
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    with open(cache_path + ".new", "w") as handle:
        json.dump(verified, handle)
    os.replace(cache_path + ".new", cache_path)
    bad = [(name, problem) for name, problem in results if problem]
    for name, problem in bad:
        print(f"{name}: {problem}; removed, to be fetched again", file=sys.stderr)
        forget(args.directory, name)
    problems = incomplete_indexes(args.directory, {item.path for item in files}) if not bad else []
    for problem in problems:
        print(problem, file=sys.stderr)
    if bad or problems:
        return 1
    if args.manifest:
        write_manifest(args.directory, files, args.manifest)
    print(f"verified {len(files)} files against the hub's sums ({sum(f.size for f in files)} bytes)")
    return 0


def write_manifest(directory: str, files: list[RemoteFile], manifest: str) -> None:
    """sha256 of every file, in sha256sum's format, for hosts that receive the files from this one."""
    lines = []
    for item in files:
        if item.sha256 is not None:
            digest = item.sha256
        else:
            with open(os.path.join(directory, item.path), "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        lines.append(f"{digest}  {item.path}\n")
    os.makedirs(os.path.dirname(manifest), exist_ok=True)
    with open(manifest + ".new", "w") as handle:
        handle.writelines(lines)
    os.replace(manifest + ".new", manifest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["total", "verify"])
    parser.add_argument("repo")
    parser.add_argument("commit")
    parser.add_argument("directory")
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--manifest", help="after a clean verify, write every file's sha256 here")
    parser.add_argument("--source", choices=["hf", "modelscope"], default="hf")
    parser.add_argument("--locked", help="the files and sums of the lock file (JSON): the hub is not listed")
    args = parser.parse_args()
    if args.locked:
        files = locked_files(args.locked)
    else:
        files = modelscope_files(args) if args.source == "modelscope" else hugging_face_files(args)
    if not files:
        print(f"{args.repo}@{args.commit} has no files matching the include/exclude patterns", file=sys.stderr)
        return 1
    if args.mode == "total":
        print(sum(item.size for item in files))
        return 0
    return verify(args, files)


if __name__ == "__main__":
    sys.exit(main())
