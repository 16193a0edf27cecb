"""Everything a deploy writes on a host from host data, made once while the inventory is resolved.

Each file and command line is made by the function the deploy itself uses, which quotes every value
with glmstack.quoting; a value its syntax cannot hold raises Unrepresentable there. Made here first,
such a value is one line naming host and field, before any host is contacted, instead of a failure
in the middle of a deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glmstack.quoting import Unrepresentable, sed_substitution
from roles.vendor_plan import vendor_base

if TYPE_CHECKING:
    from glmstack.plan import DeployPlan


def _makers(plan: DeployPlan) -> list[Callable[[], Any]]:
    # The roles import the schema's module, which calls this: imported when called.
    from roles.amd import operations as amd
    from roles.base import operations as base
    from roles.engine.operations import install_script
    from roles.gateway import render as gateway
    from roles.llamacpp import operations as llamacpp
    from roles.nvidia import operations as nvidia
    from roles.service import operations as service
    from roles.service.render import rendered_files
    from roles.service.units import node_unit_specs

    makers: list[Callable[[], Any]] = []
    for unit in node_unit_specs(plan):
        makers += [lambda unit=unit: rendered_files(unit), lambda unit=unit: service.wait_script(unit)]
    makers += [lambda: base._apt_proxy_config(plan), lambda: base.dnf_proxy_line(plan)]
    makers += [lambda cert=cert, family=family: base.ca_certificate_destination(cert, family)
               for cert in plan.config.base_extra_ca_certs for family in base.TRUST_STORE]
    if plan.nvidia:
        repository = plan.nvidia.platform.repository
        distributions = sorted(repository.distributions.items())
        directory = distributions[0][1] if distributions else "os"
        # The repository or the host data's mirror; with a bundle, its partial mirrors of each family.
        for family in ("deb", "rpm"):
            url = f"{vendor_base(plan.nvidia.repo_url, plan.nvidia.bundle_url, 'nvidia', family)}/{directory}"
            makers += [lambda url=url: nvidia.yum_repository("cuda", url, repository.rpm_key_file),
                       lambda url=url: nvidia.apt_source(url, repository.keyring_file)]
        makers.append(lambda: nvidia.preferences(plan.nvidia))
    if plan.amd:
        makers += [lambda: amd.grub_drop_in(plan.amd), lambda: amd.library_config(plan.amd)]
        makers += [lambda family=family: sed_substitution(
            plan.amd.upstream_url, vendor_base(plan.amd.repo_url, plan.amd.bundle_url, "amd", family),
            "bundle" if plan.amd.bundle_url else "amd_repo_url") for family in ("deb", "rpm")]
    if plan.llamacpp:
        makers.append(lambda: llamacpp.build_script(plan.llamacpp))
    if plan.engine_env:
        makers.append(lambda: install_script(plan.engine_env))
    if plan.gateway:
        makers += [lambda: gateway.rendered_files(plan), lambda: gateway.make_tls_command(plan),
                   lambda: gateway.health_command(plan)]
        if plan.gateway.key_file:
            makers.append(lambda: gateway.key_acl_command(plan))
    if plan.fanout is not None:
        from roles.model import fanout_operations as fanout

        fan = plan.fanout
        if fan.fetches:
            makers += [lambda: fanout.fetch_script(plan), lambda: fanout.share_unit_text(plan)]
        if fan.python_set:
            makers.append(lambda: install_script(fan.python_set, wheelhouse=fan.part_url(fan.python_part(
                fan.python_set)), uv_from=fan.part_url(fan.uv_part)))
        if plan.llamacpp and fan.llamacpp:
            makers.append(lambda: llamacpp.build_script(plan.llamacpp, fan))
    return makers


def field_holding(config: Any, value: str | None) -> str | None:
    """The host-data setting whose value is (or holds, or is part of) `value`: exact matches first."""
    if not value:
        return None
    settings = config.model_dump() if hasattr(config, "model_dump") else dict(config)
    candidates: list[tuple[int, str]] = []
    for name, setting in settings.items():
        items = (list(setting) + list(setting.values()) if isinstance(setting, dict)
                 else list(setting) if isinstance(setting, (list, tuple)) else [setting])
        for item in items:
            text = str(item) if item is not None and not isinstance(item, bool) else ""
            if text == value:
                candidates.append((0, name))
            elif text and (text in value or value in text):
                candidates.append((1, name))
    return min(candidates)[1] if candidates else None


def problems(plan: DeployPlan) -> list[tuple[str, str]]:
    """(field, problem) for each value that a file or command the deploy makes cannot hold."""
    found: list[tuple[str, str]] = []
    for make in _makers(plan):
        try:
            make()
        except Unrepresentable as error:
            field = error.field or field_holding(plan.config, error.value) or "(files)"
            if field not in {known for known, _ in found}:  # one problem a field: the first file's
                found.append((field, error.message))
    return found
