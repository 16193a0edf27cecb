"""The ascend role's plan: the NPU driver, firmware and CANN from the operator's package set, and the
NPUs' RoCE addresses (AscendPlan), checked against the catalog (catalog/ascend.yaml)."""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from glmstack.ascend import check_package_set, load_manifest
from glmstack.catalog import ASCEND_COMPONENTS, PythonWheels
from glmstack.checks import credentials_in_url, is_ip_address, is_netmask, mirror_url
from glmstack.fill import requirement_name
from roles.vendor_plan import ascend_bundle_source, bundle_source, settings_of_other_vendors

if TYPE_CHECKING:
    from glmstack.ascend import AscendPackage
    from glmstack.catalog import AscendComponent, AscendPlatform, Catalog
    from glmstack.hostdata import HostConfig


@dataclass(frozen=True)
class AscendPackagePlan:
    """One installer of the package set: the manifest's entry (file, version, sum) and the catalog's
    entry of its component (how it installs, where it leaves its version)."""

    manifest: AscendPackage
    installer: AscendComponent
    version_files: tuple[str, ...]  # the installer's, for this host's CPU architecture
    cann: bool  # one of the CANN parts, whose environment the engine reads

    # The names the plan tests read (tests/plan), through the manifest's entry.
    @property
    def component(self) -> str:
        return self.manifest.component

    @property
    def file(self) -> str:
        return self.manifest.file

    @property
    def version(self) -> str:
        return self.manifest.version


@dataclass(frozen=True)
class AscendPlan:
    """The NPU driver, firmware and CANN a host gets from the operator's package set."""

    source: str | None  # a directory on the control machine or an http(s) base URL; None: not given
    local: bool
    packages: tuple[AscendPackagePlan, ...]  # in install order of a fresh machine
    arch: str | None
    cann: str
    platform: AscendPlatform  # the catalog's Ascend entry: the installers' user, the environment, hccn_tool
    set_env: tuple[tuple[str, ...], ...]  # per CANN part, its script's possible places
    state_dir: str
    allow_reboot: bool
    reboot_timeout: int
    npus: int
    # Each NPU's RoCE address (NPU 0 first) and their netmask, set with hccn_tool; () where the host
    # data gives none (a lone node, whose HCCL stays on the board).
    roce_addresses: tuple[str, ...] = ()
    roce_netmask: str | None = None

    # The names the plan tests read (tests/plan/gpu_states.py), through the catalog's entry.
    @property
    def user(self) -> str:
        return self.platform.user

    @property
    def group(self) -> str:
        return self.platform.group

    @property
    def home(self) -> str:
        return self.platform.home

    @property
    def roce_subnet(self) -> ipaddress.IPv4Network | None:
        if not self.roce_addresses or self.roce_netmask is None:
            return None
        return ipaddress.IPv4Network(f"{self.roce_addresses[0]}/{self.roce_netmask}", strict=False)

    def package(self, component: str) -> AscendPackagePlan:
        return next(package for package in self.packages if package.component == component)

    @property
    def staging_dir(self) -> str:
        return posixpath.join(self.state_dir, "ascend", "packages")

    @property
    def reboot_stamp(self) -> str:
        """Holds the boot id under which the driver or firmware was installed: a reboot is pending
        while the host still runs that boot."""
        return posixpath.join(self.state_dir, "ascend", "reboot-pending")


def ascend_wheels(config: HostConfig, catalog: Catalog, arch: str) -> PythonWheels:
    """vllm-ascend and what it runs on, as one row of its versioning table pins them, installed
    the way its own guide does (catalog ascend.python_install)."""
    version = catalog.release_for_host(config).version
    pins = catalog.ascend.vllm_ascend[version]
    install = catalog.ascend.python_install
    requirements = [f"vllm=={pins.vllm}", f"vllm-ascend=={version}", f"torch=={pins.torch}",
                    f"torch-npu=={pins.torch_npu}",
                    *([f"triton-ascend=={pins.triton_ascend}"] if pins.triton_ascend else [])]
    return PythonWheels(
        requirements=requirements,
        torch_backend=install.torch_backend.get(arch),
        extra_index_urls=list(config.ascend_pip_extra_index_urls),
        build_env=dict(install.build_env),
        source_packages=list(install.source_packages),
        build_requirements=list(install.build_requirements),
        gpu_imports=["torch_npu", "vllm_ascend"],
        index_only={name: url for name, url in install.index_only.items()
                    if any(requirement_name(r) == name for r in requirements)},
    )


def _plan_roce(config: HostConfig, catalog: Catalog, nodes: int, problems: list) -> tuple[tuple[str, ...], str | None]:
    """The NPUs' RoCE addresses and netmask, each checked on its own and against the host's others;
    ((), None) where none are given (or they cannot work: the problem is added)."""
    accelerator = catalog.accelerators[config.accelerator]
    addresses, netmask, npus = config.ascend_roce_addresses, config.ascend_roce_netmask, accelerator.devices_per_node
    field, example = "ascend_roce_addresses", "198.51.100.11"
    if addresses is None:
        if netmask is not None:
            problems.append(("ascend_roce_netmask", "given without ascend_roce_addresses; give both, or neither"))
        elif nodes > 1 and accelerator.hccl_over_roce:
            problems.append((field, f"a multi-node deployment on {config.accelerator} runs HCCL between nodes over "
                                    f"each NPU's own RoCE port: give this node's {npus} NPUs' IPv4 addresses, NPU 0 "
                                    "first, and ascend_roce_netmask"))
        return (), None
    if len(addresses) != npus:
        problems.append((field, f"{len(addresses)} address{'es' if len(addresses) != 1 else ''} given; "
                                f"{config.accelerator} has {npus} NPUs: give one IPv4 address for each, NPU 0 first"))
        return (), None
    bad = [f"{address!r} (NPU {npu})" for npu, address in enumerate(addresses) if not is_ip_address(address, 4)]
    if bad:
        problems.append((field, f"not an IPv4 address: {', '.join(bad)}; give dotted IPv4 addresses such as {example}"))
        return (), None
    if netmask is None:
        problems.append(("ascend_roce_netmask", "required with ascend_roce_addresses: the dotted netmask of "
                                                "their subnet, such as 255.255.255.0"))
        return (), None
    if not is_netmask(netmask):
        problems.append(("ascend_roce_netmask", f"{netmask!r} is not a netmask; allowed: a dotted IPv4 netmask "
                                                "from 128.0.0.0 (/1) to 255.255.255.252 (/30), such as 255.255.255.0"))
        return (), None
    ips = [ipaddress.IPv4Address(address) for address in addresses]
    reserved = [ipaddress.IPv4Network(subnet) for subnet in catalog.ascend.roce.reserved_subnets]

    def problem(ip: ipaddress.IPv4Address) -> str | None:
        subnet = ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False)
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return "not a unicast address a port can take (loopback, link-local, multicast or reserved)"
        if ip in (subnet.network_address, subnet.broadcast_address):
            return f"the network or broadcast address of {subnet}"
        inside = next((str(each) for each in reserved if ip in each), None)
        return f"in {inside}, which the NPU boards keep for their own vNIC; use another subnet" if inside else None

    for npu, ip in enumerate(ips):
        if (what := problem(ip)) is not None:
            problems.append((field, f"{ip} (NPU {npu}) is {what}"))
            return (), None
    first_npu: dict[ipaddress.IPv4Address, int] = {}
    for npu, ip in enumerate(ips):
        if ip in first_npu:
            problems.append((field, f"{ip} is given for NPU {first_npu[ip]} and NPU {npu}; each NPU needs an "
                                    "address of its own"))
            return (), None
        first_npu[ip] = npu
    subnets = sorted({str(ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False)) for ip in ips})
    if len(subnets) > 1:
        problems.append((field, f"the addresses span {', '.join(subnets)}; a node's NPU ports share one subnet: "
                                f"give all {npus} addresses in one {netmask} subnet"))
        return (), None
    return tuple(str(ip) for ip in ips), netmask


def plan_ascend(config: HostConfig, catalog: Catalog, problems: list, nodes: int = 1) -> AscendPlan | None:
    accelerator = catalog.accelerators[config.accelerator]
    if accelerator.vendor != "huawei":
        problems += settings_of_other_vendors(config, "ascend_", "Huawei Ascend", config.accelerator,
                                               accelerator.vendor)
        return None
    for url in config.ascend_pip_extra_index_urls:  # they reach the install's command line
        if mirror_url("ascend_pip_extra_index_urls", url, problems) is None:
            return None
    roce_addresses, roce_netmask = _plan_roce(config, catalog, nodes, problems)
    platform = catalog.ascend
    cann = platform.vllm_ascend[catalog.release_for_host(config).version].cann
    source, manifest_path, packages, arch = config.ascend_packages, config.ascend_manifest, (), None
    bundle = bundle_source(config)
    if bundle and source:
        problems.append(("ascend_packages", "given with bundle, which carries the Ascend package set: give one of "
                                            "them (the bundle is made from the set this names)"))
        return None
    if bundle:
        # The bundle's copy of the set (glmstack bundle wrote it with its manifest, checked).
        source, bundled_manifest = ascend_bundle_source(bundle, config.accelerator)
        manifest_path = manifest_path or bundled_manifest
    local = bool(source) and source.startswith("/")
    if source and not local and credentials_in_url(source):
        problems.append(("ascend_packages", "credentials in a URL end up in command lines and logs; give the "
                                            "mirror without them"))
        return None
    if local and not Path(source).is_dir():
        problems.append(("bundle", f"{source}: not in the bundle, which carries no Ascend package set for "
                                   f"{config.accelerator}; make it again from this inventory (glmstack bundle)")
                        if bundle else ("ascend_packages", f"{source} is not a directory on this machine"))
        return None
    if source and manifest_path is None:
        if not local:
            problems.append(("ascend_manifest", "an http(s) package set needs its manifest on this machine"))
            return None
        manifest_path = Path(source) / "manifest.yaml"
    if source:
        try:
            manifest = load_manifest(manifest_path)
        except ValueError as error:
            problems.append(("ascend_manifest", str(error)))
            return None
        set_problems, arch = check_package_set(manifest, catalog, config.accelerator, cann,
                                               Path(source) if local else None)
        if set_problems:
            # A bundle's copy of the set: the bundle is what the host data names.
            problems += [("bundle", f"{source}: {message}") for _, message in set_problems] if bundle else set_problems
            return None
        packages = tuple(ascend_package(platform.components[p.component], p, arch,
                                         cann=p.component in platform.cann_components)
                         for name in ASCEND_COMPONENTS for p in manifest.packages if p.component == name)
    return AscendPlan(
        source=source.rstrip("/") if source else None, local=local, packages=packages, arch=arch, cann=cann,
        platform=platform,
        set_env=tuple(tuple(platform.components[name].set_env) for name in platform.cann_components
                      if platform.components[name].set_env),
        state_dir=config.base_state_dir,
        allow_reboot=config.ascend_allow_reboot, reboot_timeout=config.ascend_reboot_timeout,
        npus=accelerator.devices_per_node, roce_addresses=roce_addresses, roce_netmask=roce_netmask)


def ascend_package(component, package, arch: str, cann: bool) -> AscendPackagePlan:
    return AscendPackagePlan(
        manifest=package, installer=component,
        version_files=tuple(path.format(arch=arch) for path in component.version_files), cann=cann)
