"""A bundle's vendor part: the partial mirrors of NVIDIA's and AMD's repositories and the Ascend
package sets, written by `glmstack bundle`, and the checks a deploy from the bundle makes of them
before any host is touched.

    OUT/apt/<repo id>/...   apt partial mirrors, at the paths below the vendor's base URL
    OUT/dnf/<repo id>/...   dnf partial mirrors, likewise
    OUT/ascend/<accelerator>/manifest.yaml and its installers (the operator's set, checked)
    manifest.json "vendor"  what each repository entry holds: the hosts' pins, what was bundled,
                            and what its dependencies need from the distribution's own mirror

A host deploying from the bundle points its role at <bundle>/<apt|dnf>/<repo id> (the roles' own
mirror setting), still verified with the vendor's key; the Ascend role reads
<bundle>/ascend/<accelerator>.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from glmstack.ascend import file_sha256
from glmstack.bundle import BundleError, bundle_source, read_manifest
from glmstack.catalog import load_catalog
from glmstack.vendor_mirror import Fetcher, MirrorError, mirror_repo
from glmstack.vendor_repos import VendorRepo, vendor_repos
from roles.vendor_plan import ASCEND_DIR, ASCEND_MANIFEST

if TYPE_CHECKING:
    from glmstack.catalog import Catalog
    from glmstack.plan import DeployPlan

VENDOR_INDEX = "vendor"  # the manifest's key for the vendor part's index


class VendorBundleError(BundleError):
    """Problems with the vendor part, one `host <name>: field <field>: ...` line each."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__("\n".join(f"host {h}: field {f}: {m}" for h, f, m in problems))


@dataclass
class VendorParts:
    """What write_vendor_parts wrote: files relative to OUT, and per distribution the packages the
    vendors' packages need from the distribution's own repositories (the bundle's apt mirror)."""

    written: list[str] = field(default_factory=list)
    from_distribution: dict[str, set[str]] = field(default_factory=dict)
    index: dict = field(default_factory=dict)  # the manifest's "vendor" entry


def repo_key(repo: VendorRepo) -> str:
    return f"{repo.kind}/{repo.repo_id}/{repo.path} {repo.distribution} {repo.arch}"


def ascend_sets(plans: Iterable[DeployPlan]) -> tuple[dict[str, DeployPlan], list[tuple[str, str, str]]]:
    """accelerator -> the first host's plan carrying its set; problems: an Ascend host without a set,
    or two hosts of one accelerator with different sets (a bundle carries one per accelerator)."""
    sets: dict[str, DeployPlan] = {}
    problems = []
    for plan in plans:
        if plan.ascend is None:
            continue
        if not plan.ascend.packages:
            problems.append((plan.host, "ascend_packages", "a bundle carries the Ascend package set: give the "
                             "directory (or http(s) mirror, with ascend_manifest) holding it on this machine"))
            continue
        accelerator = plan.config.accelerator
        first = sets.setdefault(accelerator, plan)
        if {p.manifest for p in first.ascend.packages} != {p.manifest for p in plan.ascend.packages}:
            problems.append((plan.host, "ascend_packages", f"another package set than host {first.host}'s for "
                             f"{accelerator}; a bundle carries one set per accelerator: give both the same"))
    return sets, problems


def _copy_ascend_set(plan: DeployPlan, out: Path, fetch: Fetcher) -> list[str]:
    ascend = plan.ascend
    target = out / ASCEND_DIR / plan.config.accelerator
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for package in ascend.packages:
        dest = target / package.file
        if ascend.local:
            source = Path(ascend.source) / package.file
            if file_sha256(source) != package.manifest.sha256:
                raise VendorBundleError([(plan.host, "ascend_packages", f"{package.file}: its sha256 is not the "
                                                                        "manifest's; not bundled")])
            shutil.copyfile(source, dest)
        else:
            try:
                fetch.download(f"{ascend.source}/{package.file}", dest, package.manifest.sha256)
            except MirrorError as error:
                raise VendorBundleError([(plan.host, "ascend_packages", str(error))]) from None
        written.append(str(dest.relative_to(out)))
    manifest = {"packages": [p.manifest.model_dump() for p in ascend.packages]}
    (target / ASCEND_MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    written.append(str((target / ASCEND_MANIFEST).relative_to(out)))
    return written


def write_vendor_parts(plans: list[DeployPlan], out: Path, fetch: Fetcher | None = None,
                       catalog: Catalog | None = None, distributions: Iterable[str] | None = None) -> VendorParts:
    """Write the vendor part of a bundle for the hosts' plans into out (see the module's docstring).
    Raises VendorBundleError (every host's problem that can be seen before fetching, or the first
    repository that does not check out, naming host, setting and file). distributions: the
    os-release ID-VERSION_IDs to carry (None: every one glmstack supports)."""
    catalog = catalog or load_catalog()
    fetch = fetch or Fetcher()
    unknown = sorted(set(distributions or []) - set(catalog.packages.distributions))
    if unknown:
        raise BundleError(f"vendor distribution {', '.join(unknown)}: not one glmstack supports; allowed: "
                          f"{', '.join(sorted(catalog.packages.distributions))}")
    sets, problems = ascend_sets(plans)
    if problems:
        raise VendorBundleError(problems)
    parts = VendorParts()
    index: dict = {"repositories": [], "ascend": {}}
    for repo in vendor_repos(plans, catalog, distributions):
        upstream = getattr(catalog, repo.vendor).repository.base_url
        try:
            result = mirror_repo(repo, out, fetch, upstream)
        except MirrorError as error:
            text = str(error)
            if not text.startswith("host "):
                text = f"host {repo.hosts[0]}: field {repo.vendor}_repo_url: {text}"
            host, _, rest = text.removeprefix("host ").partition(": field ")
            name, _, message = rest.partition(": ")
            raise VendorBundleError([(host, name, message)]) from None
        parts.written += result.written
        parts.from_distribution.setdefault(repo.distribution, set()).update(result.from_distribution)
        index["repositories"].append({
            "key": repo_key(repo), "kind": repo.kind, "repo_id": repo.repo_id, "path": repo.path,
            "distribution": repo.distribution, "arch": repo.arch, "hosts": list(repo.hosts),
            "pins": [f"{p.name}={p.version}" if p.version else p.name for p in repo.packages],
            "bundled": sorted(result.packages), "from_distribution": sorted(result.from_distribution),
            "files": sorted(result.written)})
    for accelerator, plan in sorted(sets.items()):
        files = _copy_ascend_set(plan, out, fetch)
        parts.written += files
        index["ascend"][accelerator] = {"arch": plan.ascend.arch, "files": files}
    parts.index = index
    return parts


def vendor_files_by_host(index: dict) -> dict[str, list[str]]:
    """host -> the vendor part's files its deploy installs from (the manifest's per-host needs)."""
    files: dict[str, set[str]] = {}
    for entry in index.get("repositories", []):
        for host_name in entry["hosts"]:
            files.setdefault(host_name, set()).update(entry["files"])
    return {host_name: sorted(names) for host_name, names in files.items()}


# ---- a deploy from a bundle ----


def _bundled(entry: dict, name: str, version: str | None) -> bool:
    for item in entry["bundled"]:
        have, _, have_version = item.partition("=")
        if have == name and (version is None or have_version.split(":", 1)[-1].startswith(f"{version}-")
                             or have_version == version):
            return True
    return version is None and name in entry["from_distribution"]


def bundle_vendor_problems(plan: DeployPlan, bundle: Path, document: dict,
                           setting: str = "bundle") -> list[tuple[str, str]]:
    """(setting, message) for what this host's deploy needs from the vendors that the bundle at
    `bundle` (a directory on the control machine; `document` its manifest) lacks or holds altered:
    every repository entry and pinned package of its vendor repositories, the signed metadata
    against the manifest's sums (apt and dnf check the packages against it on the host), and its
    Ascend set (whose installers plan_ascend checks against the set's own manifest)."""
    problems: list[tuple[str, str]] = []
    repos = vendor_repos([plan])
    if not repos and plan.ascend is None:
        return problems
    if VENDOR_INDEX not in document:
        return problems  # not written by glmstack bundle (it always records its vendor part, even empty)
    index = document[VENDOR_INDEX] or {}
    files = document.get("files", {})
    entries = {entry["key"]: entry for entry in index.get("repositories", [])}
    carried = {entry["distribution"] for entry in entries.values()}
    if repos and not carried:
        return [(setting, "the bundle carries no vendor repository; make it again from this inventory "
                          "(glmstack bundle)")]
    for repo in repos:
        if repo.distribution not in carried:
            continue  # a bundle made for other distributions than this one (a host's own is a fact)
        entry = entries.get(repo_key(repo))
        if entry is None:
            problems.append((setting, f"the bundle has no {repo.kind}/{repo.repo_id}/{repo.path} for "
                                      f"{repo.distribution} {repo.arch}; make it again from this inventory"))
            continue
        for pin in repo.packages:
            if not _bundled(entry, pin.name, pin.version):
                what = f"{pin.name} {pin.version}" if pin.version else pin.name
                problems.append((setting, f"{repo.kind}/{repo.repo_id}/{repo.path}: {what} is not in the bundle "
                                          f"({repo.distribution} {repo.arch}); make the bundle again from this "
                                          "inventory"))
        for relative in entry["files"]:
            path = bundle / relative
            if not path.is_file():
                problems.append((setting, f"{relative}: not in the bundle"))
            elif _metadata(relative) and file_sha256(path) != (files.get(relative) or {}).get("sha256"):
                problems.append((setting, f"{relative}: its sha256 is not the manifest's (a changed or corrupted "
                                          "file)"))
    if plan.ascend is not None:
        manifest_file = bundle / ASCEND_DIR / plan.config.accelerator / ASCEND_MANIFEST
        if not manifest_file.is_file():
            problems.append((setting, f"{ASCEND_DIR}/{plan.config.accelerator}/{ASCEND_MANIFEST}: not in the bundle; "
                                      "make it again with this inventory's Ascend package set"))
    return problems


def _metadata(relative: str) -> bool:
    """The signed repository metadata and its indexes: small files, checked at every plan (the
    packages are checked by apt and dnf against these on the host)."""
    name = relative.rsplit("/", 1)[-1]
    return name in ("InRelease", "Release", "Release.gpg") or name.startswith("Packages") or "/repodata/" in relative


DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def this_distribution(os_release: Path = Path("/etc/os-release")) -> str | None:
    """This machine's os-release ID-VERSION_ID (debian-12), or None."""
    try:
        fields = dict(line.split("=", 1) for line in os_release.read_text().splitlines() if "=" in line)
    except OSError:
        return None
    os_id, version = fields.get("ID", "").strip('"'), fields.get("VERSION_ID", "").strip('"')
    return f"{os_id}-{version}" if os_id and version else None


def distribution_packages(parts: VendorParts, distribution: str | None,
                          known: Callable[[list[str]], set[str]] | None = None) -> list[str]:
    """What the vendors' packages need from `distribution`'s own repositories, as package names for
    its mirror: of alternatives, the first the distribution has (`known`: the names its apt knows;
    None: this machine's apt-cache). File and library requirements (rpm) are left to dnf."""
    clauses = [[name.strip() for name in clause.split("|")]
               for clause in parts.from_distribution.get(distribution or "", set())]
    names = sorted({name for clause in clauses for name in clause if DEB_NAME.match(name)})
    if not names:
        return []
    have = (known or apt_known)(names)
    chosen = {next((name for name in clause if name in have), None) for clause in clauses}
    return sorted(name for name in chosen if name)


def apt_known(names: list[str]) -> set[str]:
    """The names this machine's apt has a package (or a provider) for."""
    if shutil.which("apt-cache") is None:
        return set(names)
    shown = subprocess.run(["apt-cache", "show", "--no-all-versions", *names], capture_output=True, text=True,
                           check=False).stdout
    found = {line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Package:")}
    provided = subprocess.run(["apt-cache", "showpkg", *sorted(set(names) - found)], capture_output=True, text=True,
                              check=False).stdout if set(names) - found else ""
    for block in provided.split("Package: ")[1:]:
        name, _, rest = block.partition("\n")
        if "Reverse Provides:" in rest and rest.split("Reverse Provides:", 1)[1].strip():
            found.add(name.strip())
    return found


def inventory_problems(plans: Iterable[DeployPlan]) -> list[str]:
    """Error lines for hosts whose bundle (a directory on this machine) lacks or holds altered what
    their vendors' part needs: checked when the inventory loads, before any host is touched. A
    bundle at an http(s) URL is checked by the hosts (the manifest's sums, apt's and dnf's
    signatures)."""
    errors, documents = [], {}
    for plan in plans:
        if plan.config.bundle is None or (plan.nvidia is None and plan.amd is None):
            continue
        source = bundle_source(plan.config.bundle)
        if source.kind != "path":
            continue
        try:
            document = documents.get(source.value) or read_manifest(Path(source.value))
        except BundleError as error:
            errors.append(f"host {plan.host}: field bundle: {error}")
            continue
        documents[source.value] = document
        errors += [f"host {plan.host}: field {name}: {message}"
                   for name, message in bundle_vendor_problems(plan, Path(source.value), document)]
    return errors
