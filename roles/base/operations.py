"""base: what every glmstack host needs before an engine: trust, packages, user, directories, time."""

from __future__ import annotations

import posixpath
import urllib.request
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING

from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, deploy, operation
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FileContents
from pyinfra.facts.server import Arch, Command, Users
from pyinfra.operations import files, server, systemd

from glmstack import bundle as bundles
from glmstack.catalog import load_catalog
from glmstack.facts import ContainerVirtualization, NetworkInterfaces, PciDevices
from glmstack.ops import distribution, install_step, installed_packages, package_family, recover_package_manager
from glmstack.os_packages import package_step
from glmstack.quoting import Unrepresentable, ini_value, refuse_control_characters
from glmstack.templating import role_templates

if TYPE_CHECKING:  # the schema imports each role's defaults, so only for typing
    from glmstack.plan import DeployPlan

# What the role writes to a host: templates/ in its folder.
_templates = role_templates(__file__)
# Where extra CA certificates go, and the command that rebuilds the trust store, per package family.
TRUST_STORE = {"deb": ("/usr/local/share/ca-certificates/glmstack/{name}.crt", "update-ca-certificates"),
               "rpm": ("/etc/pki/ca-trust/source/anchors/glmstack-{name}.crt", "update-ca-trust")}
# Installing systemd-timesyncd beside one of these makes apt remove it: keep what the host runs.
OTHER_TIME_DAEMONS = ("chrony", "ntp", "ntpsec", "openntpd")
TIME_SERVICE = {"deb": "systemd-timesyncd", "rpm": "chronyd"}


def preflight(plan: DeployPlan, devices: bool = True) -> None:
    """Stop before changing anything on a host this collection cannot provision yet (`devices`:
    also when the accelerator's devices are missing)."""
    release = distribution()
    name = release.get("name")
    supported = load_catalog().packages.families
    if name not in supported:
        pretty = release.get("release_meta", {}).get("PRETTY_NAME") or name or "an unknown OS"
        raise DeployError(f"host {host.name}: {pretty} is not supported yet; "
                          f"supported: {', '.join(supported)}")
    arch = host.get_fact(Arch)
    allowed = plan.accelerator_cpu_arch
    if arch not in allowed:
        raise DeployError(f"host {host.name}: CPU architecture {arch} cannot serve accelerator "
                          f"{plan.config.accelerator!r}; allowed: {', '.join(allowed)}")
    if devices:
        _accelerators_present(plan)
    _network_interface_present(plan)
    if not plan.engine_installable:
        raise DeployError(f"host {host.name}: engine {plan.engine_name} can be planned (glmstack plan, glmstack "
                          "render) but glmstack cannot install it yet on accelerator "
                          f"{plan.config.accelerator!r}; installable today: llama.cpp, vLLM and SGLang on NVIDIA, "
                          "vLLM on AMD, vLLM-Ascend on Ascend")


def _accelerators_present(plan: DeployPlan) -> None:
    """The host has the devices its accelerator group promises, found by PCI vendor and class."""
    if not plan.devices_per_node or plan.accelerator_pci_vendor is None:
        return
    found = [device for device in host.get_fact(PciDevices)
             if device["vendor"] == plan.accelerator_pci_vendor
             and device["class"][:4] in plan.accelerator_pci_classes]
    if len(found) < plan.devices_per_node:
        raise DeployError(
            f"host {host.name}: accelerator {plan.config.accelerator!r} needs {plan.devices_per_node} "
            f"{plan.accelerator_vendor} devices (PCI vendor {plan.accelerator_pci_vendor}, class "
            f"{' or '.join(plan.accelerator_pci_classes)}); this host has {len(found)}. Check the host is in "
            "the right inventory group and that its devices are visible (lspci, BIOS, passthrough).")


def _network_interface_present(plan: DeployPlan) -> None:
    """The NIC named for the deployment's collective traffic exists here (NCCL, Gloo and HCCL
    would otherwise fail at the first collective, long after the engine started loading)."""
    interface = plan.config.network_interface
    if plan.nodes < 2 or interface is None:
        return
    interfaces = host.get_fact(NetworkInterfaces)
    if interface not in interfaces:
        present = ", ".join(f"{name} ({' '.join(addresses)})" if addresses else name
                            for name, addresses in sorted(interfaces.items()) if name != "lo")
        raise DeployError(f"host {host.name}: field network_interface: {interface!r} is not an interface of this "
                          f"host; it has: {present or 'none'}")


def _apt_proxy_config(plan: DeployPlan) -> str:
    """apt's proxy configuration; each value quoted as apt reads it (apt_value refuses what apt cannot hold)."""
    config = plan.config
    return _templates.get_template("apt-proxy.conf.j2").render(http_proxy=config.base_http_proxy,
                                                              https_proxy=config.base_https_proxy)


def dnf_proxy_line(plan: DeployPlan) -> str | None:
    """dnf.conf's proxy= line (the HTTPS proxy, else the HTTP one), or None without a proxy."""
    config = plan.config
    field = "base_https_proxy" if config.base_https_proxy else "base_http_proxy"
    proxy = config.base_https_proxy or config.base_http_proxy
    return f"proxy={ini_value(proxy, field)}" if proxy else None


def ca_certificate_destination(cert: Path, family: str) -> str:
    """Where one extra CA certificate goes in the trust store: named by its file's stem, one word."""
    name = refuse_control_characters(cert.stem, "a certificate's file name", "base_extra_ca_certs")
    if not name or name.startswith(".") or not name.isprintable():
        raise Unrepresentable(f"{cert.name!r} cannot name a certificate in the trust store", "base_extra_ca_certs",
                              cert.name)
    return TRUST_STORE[family][0].format(name=name)


def trust_and_proxies(plan: DeployPlan) -> None:
    """Extra CA certificates in the host's trust store, and the package manager's proxy."""
    config = plan.config
    family = package_family()
    rebuild = TRUST_STORE[family][1]
    certs = []
    for cert in config.base_extra_ca_certs:
        certs.append(files.put(name=f"Trust CA certificate {cert.name}", src=str(cert),
                               dest=ca_certificate_destination(cert, family), mode="644", create_remote_dir=True))
    if certs:
        server.shell(name="Rebuild the CA trust store", commands=[rebuild],
                     _if=lambda: any(op.did_change() for op in certs))

    if family == "rpm":
        proxy_line = dnf_proxy_line(plan)
        if proxy_line:
            files.line(name="Configure dnf proxy", path="/etc/dnf/dnf.conf", line=r"^proxy=.*",
                       replace=proxy_line)
        return
    proxy_file = "/etc/apt/apt.conf.d/95glmstack-proxy"
    if config.base_http_proxy or config.base_https_proxy:
        files.put(name="Configure apt proxy", src=StringIO(_apt_proxy_config(plan)), dest=proxy_file,
                  mode="644")
    else:
        files.file(name="No apt proxy", path=proxy_file, present=False)


# With a bundle, apt reads only the bundle's repositories: its sources in a directory of their own.
BUNDLE_APT_CONF = "/etc/apt/apt.conf.d/94glmstack-bundle"
BUNDLE_SOURCES_DIR = "/etc/apt/glmstack-bundle"


def _host_pythons(plan: DeployPlan) -> set[str]:
    """The Pythons this host's sets are for (cpXY): its python3, and the engine environment's own Python."""
    version = host.get_fact(Command, command="python3 -c 'import sys; print(\"cp%d%d\" % sys.version_info[:2])' "
                                             "2>/dev/null || true")
    pythons = {version.strip()} if version and version.strip().startswith("cp") else set()
    env_python = plan.engine_env.python if plan.engine_env else None
    if env_python:
        pythons.add("cp" + env_python.replace(".", ""))
    return pythons


# Read once per host and deploy: the base role takes the bundle's files, the model role its weights.
_MANIFESTS: dict[tuple[str, str], dict] = {}


def bundle_manifest(plan: DeployPlan) -> dict:
    """The bundle's manifest, read on the control machine; for a directory, the files this host needs
    are checked against it here, before anything is installed."""
    key = (host.name, plan.config.bundle)
    if key not in _MANIFESTS:
        _MANIFESTS[key] = _read_bundle_manifest(plan)
    return _MANIFESTS[key]


def _read_bundle_manifest(plan: DeployPlan) -> dict:
    source = bundles.bundle_source(plan.config.bundle)
    try:
        if source.kind == "path":
            document = bundles.read_manifest(Path(source.value))
        else:
            with urllib.request.urlopen(source.join(bundles.MANIFEST), timeout=30) as response:
                document = bundles.parse_manifest(response.read().decode(), source.join(bundles.MANIFEST))
        needs = bundles.host_needs(document, host.name)
        files = bundles.files_under(document, bundles.for_pythons(needs.parts(), _host_pythons(plan)))
        if source.kind == "path":
            bundles.verify_files(Path(source.value), files)
    except (bundles.BundleError, OSError) as error:
        raise DeployError(f"host {host.name}: field bundle: {error}") from None
    codename = distribution().get("release_meta", {}).get("VERSION_CODENAME")
    if needs.apt_repos and codename != document.get("apt_release"):
        raise DeployError(f"host {host.name}: field bundle: its apt mirrors are for {document.get('apt_release')}, "
                          f"this host runs {codename or 'another release'}; make the bundle on a machine of this "
                          "host's release")
    return {"document": document, "needs": needs, "files": files, "source": source}


# The fetch-and-check script, written beside the bundle's files on the host for its one run.
FETCH_SCRIPT = ".fetch.sh"


@operation()
def bundle_files(source: bundles.BundleSource, files: dict, directory: str):
    """The bundle's files this host needs, in `directory`: uploaded (a bundle on the control machine) or
    fetched from its URL, then checked against the manifest's sums (templates/bundle-fetch.sh.j2)."""
    verified = set(host.get_fact(FileContents, path=f"{directory}/.verified") or [])
    missing = {path: entry for path, entry in files.items()
               if f"{entry['sha256']}  {path}" not in verified}
    if not missing:
        host.noop(f"the bundle's {len(files)} files for this host are in {directory}, checked")
        return
    if source.kind == "path":
        for folder in sorted({posixpath.dirname(path) for path in missing}):
            yield StringCommand("mkdir", "-p", QuoteString(posixpath.join(directory, folder)))
        for path in sorted(missing):
            dest = posixpath.join(directory, path)
            yield FileUploadCommand(source.join(path), dest, remote_temp_filename=host.get_temp_filename(dest))
    script = _templates.get_template("bundle-fetch.sh.j2").render(
        directory=directory, fetch=sorted(missing) if source.kind == "url" else [], url=source.value.rstrip("/"),
        sums=bundles.host_manifest_lines(missing))
    # A file, not a command line: an engine's wheels and a GPU host's apt closure make a script
    # longer than one argument may be (bash -c: "Argument list too long", seen at 256 files).
    fetch = posixpath.join(directory, FETCH_SCRIPT)
    yield StringCommand("mkdir", "-p", QuoteString(directory))
    yield FileUploadCommand(StringIO(script), fetch, remote_temp_filename=host.get_temp_filename(fetch))
    yield StringCommand("bash", QuoteString(fetch))
    yield StringCommand("rm", "-f", QuoteString(fetch))


def _bundle_repos(files: dict, directory: str, repo_ids: list[str]) -> list[dict]:
    """Each apt mirror's suites, components and keyrings, read from the manifest's file paths."""
    repos = []
    for ident in repo_ids:
        prefix = f"{bundles.APT}/{ident}/"
        paths = [path[len(prefix):].split("/") for path in files if path.startswith(prefix)]
        suites = sorted({p[1] for p in paths if p[0] == "dists" and len(p) > 2})
        components = sorted({p[2] for p in paths if p[0] == "dists" and len(p) > 4})
        keyrings = sorted(posixpath.join(directory, prefix, *p) for p in paths if p[0] == "keyring")
        repos.append({"directory": posixpath.join(directory, bundles.APT, ident), "suites": suites,
                      "components": components, "keyrings": keyrings})
    return repos


def bundle_sources(plan: DeployPlan) -> None:
    """With a bundle: its files this host needs on the host, checked, and apt reading only its
    mirrors. Without one: apt reads the host's own sources."""
    if plan.config.bundle is None:
        files.file(name="No bundle apt configuration", path=BUNDLE_APT_CONF, present=False)
        return
    taken = bundle_manifest(plan)
    directory = bundles.host_directory(plan.config.base_prefix)
    bundle_files(name="Bundle files for this host", source=taken["source"], files=taken["files"], directory=directory)
    if package_family() != "deb" or not taken["needs"].apt_repos:
        return
    repos = _bundle_repos(taken["files"], directory, taken["needs"].apt_repos)
    files.put(name="Bundle apt sources", src=StringIO(_templates.get_template("bundle.sources.j2").render(
        repos=repos)), dest=f"{BUNDLE_SOURCES_DIR}/glmstack-bundle.sources", mode="644", create_remote_dir=True)
    files.put(name="apt reads only the bundle", src=StringIO(_templates.get_template("bundle-apt.conf.j2").render(
        source_list=f"{BUNDLE_SOURCES_DIR}/none.list", source_parts=f"{BUNDLE_SOURCES_DIR}/")),
        dest=BUNDLE_APT_CONF, mode="644")


def _account_not_ours(plan: DeployPlan) -> None:
    """Stop before `usermod` rewrites the home and shell of an account of the host's own: root, or a
    system account (uid below the catalog's first regular uid) whose home is not glmstack's state
    directory, the home glmstack gives the service user it creates."""
    config = plan.config
    account = host.get_fact(Users).get(config.base_service_user)
    if account is None:
        return
    uid, home = account.get("uid"), account.get("home")
    if uid == 0 or (uid is not None and uid < load_catalog().host.first_regular_uid and home != config.base_state_dir):
        raise DeployError(f"host {host.name}: field base_service_user: {config.base_service_user!r} is an account "
                          f"of this host (uid {uid}, home {home}) that glmstack did not create, and would have its "
                          f"home and shell rewritten; allowed: a name this host has no account for, or glmstack's "
                          f"own service user (home {config.base_state_dir})")


def service_user(plan: DeployPlan) -> None:
    config = plan.config
    _account_not_ours(plan)
    server.group(name="Service group", group=config.base_service_group, system=True)
    server.user(name="Service user", user=config.base_service_user, group=config.base_service_group,
                system=True, home=config.base_state_dir, shell="/usr/sbin/nologin", create_home=False,
                # The state directory stays root-owned; the unit gives the engine a HOME of its own.
                ensure_home=False)


def directories(plan: DeployPlan) -> None:
    config = plan.config
    group = config.base_service_group
    files.directory(name="Program prefix", path=config.base_prefix, user="root", group="root", mode="755")
    # Weights are readable by the service but owned by root, so the engine cannot alter them.
    files.directory(name="State directory", path=config.base_state_dir, user="root", group=group,
                    mode="750")
    files.directory(name="Model directory", path=f"{config.base_state_dir}/models", user="root",
                    group=group, mode="750")
    files.directory(name="Service homes", path=f"{config.base_state_dir}/home", user="root", group=group,
                    mode="750")
    files.directory(name="Config directory (secrets)", path=config.base_config_dir, user="root",
                    group="root", mode="700")


def _time_sync(plan: DeployPlan) -> None:
    if not plan.config.base_time_sync:
        host.noop("time sync left to the operator (base_time_sync is false)")
        return
    container = host.get_fact(ContainerVirtualization)
    if container:
        host.noop(f"time sync skipped: this host is a {container} container and shares its host's clock")
        return
    installed = installed_packages()
    present = [daemon for daemon in OTHER_TIME_DAEMONS if daemon in installed]
    if present:
        host.noop(f"time sync left to {present[0]}, which this host already has")
        return
    install_step(package_step(plan, "time-sync"))
    systemd.service(name="Time sync", service=TIME_SERVICE[package_family()], running=True, enabled=True)


@deploy("glmstack base")
def install_base(plan: DeployPlan, devices: bool = True) -> None:
    preflight(plan, devices=devices)
    if package_family() == "deb":
        recover_package_manager(name="Finish an interrupted package run")
    # The bundle's sums are checked before anything is installed from it.
    bundle_sources(plan)
    trust_and_proxies(plan)
    install_step(package_step(plan, "base"))
    service_user(plan)
    directories(plan)
    _time_sync(plan)
