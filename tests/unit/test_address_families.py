"""Which socket families each rendered unit may open (RestrictAddressFamilies=).

The collectives the accelerator engines start with (NCCL, RCCL, HCCL, Gloo) list the host's
interfaces with getifaddrs, a netlink request; without AF_NETLINK every tensor-parallel start dies
in ncclGetUniqueId. Ray's units start the engine's workers, so they need it too. llama.cpp on a
CPU runs no collective and keeps the tight list. The lab proves both in the units' own sandboxes
(tests/lab/test_collectives_sandbox.py); this checks every unit of every recipe, all ranks.
"""

from __future__ import annotations

import pytest

from glmstack.catalog import load_catalog
from glmstack.config import resolve_inventory
from glmstack.examples import recipe_hosts
from glmstack.lab.collectives import OLD_ADDRESS_FAMILIES, probe_setup, probe_unit, probe_unit_changes
from roles.service.render import render_env_file, render_unit, unit_paths
from roles.service.units import UnitSpec, node_unit_specs

TIGHT = "AF_UNIX AF_INET AF_INET6"


RECIPES = {f"{r.model}/{r.accelerator}/{r.engine}/{r.variant}": r for r in load_catalog().recipes}
ACCELERATOR_RECIPES = [name for name, recipe in RECIPES.items()
                       if load_catalog().accelerators[recipe.accelerator].vendor != "none"]


def every_unit(recipe) -> list[tuple[str, UnitSpec]]:
    """(host, unit) of every unit of every node of the recipe's deployment."""
    plans = resolve_inventory(recipe_hosts(recipe))
    return [(plan.host, unit) for plan in plans for unit in node_unit_specs(plan)]


@pytest.mark.parametrize("name", RECIPES)
def test_units_that_run_collectives_may_open_netlink_sockets(name):
    recipe = RECIPES[name]
    accelerator = load_catalog().accelerators[recipe.accelerator]
    units = every_unit(recipe)
    assert units
    for host, unit in units:
        lines = [line for line in render_unit(unit).splitlines() if line.startswith("RestrictAddressFamilies=")]
        assert len(lines) == 1, lines
        families = lines[0].partition("=")[2]
        if accelerator.vendor == "none":
            # llama.cpp on a CPU (server and RPC workers): no collective, no netlink.
            assert families == TIGHT, (host, unit.name, families)
        else:
            assert families.split() == [*TIGHT.split(), "AF_NETLINK"], (host, unit.name, families)


@pytest.mark.parametrize("name", ACCELERATOR_RECIPES)
def test_the_sandbox_tiers_probe_units_keep_every_sandbox_directive(name):
    """The lab's probe unit (tests/lab/test_collectives_sandbox.py) differs from the rendered unit
    only in what starts the engine: every sandbox directive is the deploy's own."""
    probe = "/usr/bin/python3 /opt/probe.py"
    for _host, unit in every_unit(RECIPES[name]):
        text = render_unit(unit)
        assert probe_unit_changes(text, probe_unit(text, probe)) <= {
            "ExecStart", "ExecStartPre", "Requires", "PartOf", "Restart"}
        old = probe_unit(text, probe, OLD_ADDRESS_FAMILIES)
        assert f"\nRestrictAddressFamilies={OLD_ADDRESS_FAMILIES}\n" in old


@pytest.mark.parametrize("name", ACCELERATOR_RECIPES)
def test_the_sandbox_tiers_probe_setup_makes_what_the_units_sandbox_needs(name):
    """What install_probe puts on a lab node for a unit (no lab needed to make it): the probe unit,
    the service user with the unit's groups, its home and writable paths, its environment file as
    rendered and the others it names (CANN's, the API key's) empty."""
    probe = "/usr/bin/python3 /opt/probe.py"
    for plan in resolve_inventory(recipe_hosts(RECIPES[name])):
        config = plan.config
        for unit in node_unit_specs(plan):
            setup = probe_setup(unit, probe, OLD_ADDRESS_FAMILIES)
            assert setup.text == probe_unit(render_unit(unit), probe, OLD_ADDRESS_FAMILIES)
            steps = setup.command.split(" && ")
            groups = [config.base_service_group, *plan.supplementary_groups]
            assert steps[:len(groups)] == [f"(getent group {g} >/dev/null || groupadd --system {g})" for g in groups]
            user = config.base_service_user
            assert steps[len(groups)] == (
                f"(id -u {user} >/dev/null 2>&1 || useradd --system --no-create-home --gid "
                f"{config.base_service_group} --home-dir {config.base_state_dir} --shell /usr/sbin/nologin {user})")
            home = f"{config.base_state_dir}/home/{unit.name}"
            writable = [] if plan.ray is not None and unit.name == plan.ray.unit_name else list(plan.writable_paths)
            assert steps[len(groups) + 1:] == [f"install -d -o {user} -g {config.base_service_group} -m 750 {d}"
                                               for d in [home, *writable]]
            paths = unit_paths(unit)
            others = ([paths["cann_env_file"]] if plan.ascend else []) + (
                [unit.api_key.env_file] if unit.api_key else [])
            assert setup.files == {paths["env_file"]: render_env_file(unit), **dict.fromkeys(others, "")}
            assert paths["env_file"] == f"{config.base_config_dir}/{unit.name}.env"
