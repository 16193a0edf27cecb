"""The service role's files, rendered from a UnitSpec (roles/service/units.py) with the templates
in roles/service/templates: the systemd unit, its environment file, the cluster's nftables rules,
and the shell the unit and the deploy wait with."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from glmstack.quoting import (
    exec_line,
    nft_address,
    nft_identifier,
    unit_setting,
)
from glmstack.templating import role_templates
from roles.service.units import NODE_WAIT_SECONDS, StartWait, UnitSpec

# Inside the package (a wheel installs them with it), found from this module, never from the cwd.
TEMPLATES = Path(__file__).resolve().parent / "templates"


def unit_description(pieces: Iterable[tuple[str, str | None]]) -> str:
    """Description=: glmstack's own words as they are, each value from host data quoted as a unit
    setting, naming the field it came from."""
    return "".join(text if field is None else unit_setting(text, field) for text, field in pieces)


# The roles' one Jinja setup (glmstack.templating): a filter per syntax a value lands in, each taking
# the host-data field the value came from; plus this role's Description= builder.
_jinja = role_templates(__file__)
_jinja.filters["unit_description"] = unit_description

# Set in the unit; the running engine's copy says which configuration it was started with.
FINGERPRINT_VARIABLE = "GLMSTACK_DEPLOYED"


def render_template(template: str, **values) -> str:
    return _jinja.get_template(template).render(**values)


def render_command(template: str, **values) -> str:
    """A one-line shell command from a template written over several lines for reading: its lines
    joined with spaces (so each ends where the shell allows a space: after `;`, `&&`, `do`, `then`).
    No value can add a line: every filter refuses control characters."""
    return " ".join(line.strip() for line in render_template(template, **values).splitlines() if line.strip())


def unit_paths(unit: UnitSpec) -> dict[str, str]:
    return {
        "unit": f"/etc/systemd/system/{unit.name}.service",
        "env_file": f"{unit.config_dir}/{unit.name}.env",
        "cann_env_file": f"{unit.config_dir}/{unit.name}.cann.env",
        "firewall": f"{unit.config_dir}/{unit.name}.nft",
        "home": f"{unit.state_dir}/home/{unit.name}",
    }


@dataclass(frozen=True)
class KeptConfiguration:
    """Where a host keeps the files its unit ran with before a change, until the changed unit is
    ready (roles/service keep_running_configuration, and the wait's rollback): root only, under
    the configuration directory. `target` holds the fingerprint of the change they were kept for:
    only a wait for that very change restores them."""

    directory: str
    target: str
    files: tuple[tuple[str, str], ...]  # (a file the role writes for the unit, its kept copy)


def kept_configuration(unit: UnitSpec) -> KeptConfiguration:
    paths = unit_paths(unit)
    directory = f"{unit.config_dir}/previous/{unit.name}"
    return KeptConfiguration(directory, f"{directory}/for", tuple(
        (paths[name], posixpath.join(directory, posixpath.basename(paths[name])))
        for name in ("unit", "env_file", "firewall")))


def start_wait_command(wait: StartWait) -> str:
    """An ExecStartPre's command line: the wait's own command, or the endpoints' wait script
    (wait-for-endpoints.sh.j2), its lines joined into the one word of `bash -c`."""
    if wait.argv:
        return exec_line(wait.argv)
    script = render_command("wait-for-endpoints.sh.j2", endpoints=wait.endpoints, failure=wait.failure,
                            tries=NODE_WAIT_SECONDS // 2)
    return exec_line(["/bin/bash", "-c", script])


def _unit_text(unit: UnitSpec, fingerprint: str) -> str:
    return render_template(
        "engine.service.j2", unit=unit, paths=unit_paths(unit), fingerprint=fingerprint,
        fingerprint_variable=FINGERPRINT_VARIABLE,
        waits=[(wait.why, start_wait_command(wait)) for wait in unit.waits],
    )


def render_env_file(unit: UnitSpec) -> str:
    return render_template("engine.env.j2", unit=unit)


def deployed_fingerprint(unit: UnitSpec) -> str:
    """Identifies the unit, its environment and the weights: what a running unit should match."""
    material = _unit_text(unit, "") + render_env_file(unit) + unit.weights_fingerprint
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def render_unit(unit: UnitSpec) -> str:
    return _unit_text(unit, deployed_fingerprint(unit))


def cluster_firewall_table(unit: UnitSpec) -> str:
    return nft_identifier(f"glmstack_{unit.name.replace('-', '_')}", "deployment")


def render_cluster_firewall(unit: UnitSpec) -> str:
    """nftables rules the unit loads before it starts: the ports the deployment's nodes talk on
    answer those nodes and this one only (cluster-firewall.nft.j2)."""
    firewall = unit.firewall
    assert firewall is not None, f"{unit.name} opens no cluster ports"
    table = cluster_firewall_table(unit)
    allowed = [nft_address(address, "address") for address in (*firewall.peers, firewall.address)]
    return render_template(
        "cluster-firewall.nft.j2", table=table,
        v4=sorted({a for a in allowed if ":" not in a} | {"127.0.0.0/8"}),
        v6=sorted({a for a in allowed if ":" in a} | {"::1"}),
        ports=firewall.ports,
    )


def rendered_files(unit: UnitSpec) -> dict[str, tuple[str, str]]:
    """Path on the host -> (content, mode) of every file the service role installs for one unit."""
    paths = unit_paths(unit)
    files = {paths["unit"]: (render_unit(unit), "644"), paths["env_file"]: (render_env_file(unit), "600")}
    if unit.firewall:
        files[paths["firewall"]] = (render_cluster_firewall(unit), "644")
    return files
