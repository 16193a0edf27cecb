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
from glmstack.config import DeployPlan, node_units, resolve_inventory
from glmstack.examples import recipe_hosts
from glmstack.lab.collectives import OLD_ADDRESS_FAMILIES, probe_unit, probe_unit_changes
from glmstack.render import render_unit

TIGHT = "AF_UNIX AF_INET AF_INET6"


RECIPES = {f"{r.model}/{r.accelerator}/{r.engine}/{r.variant}": r for r in load_catalog().recipes}
ACCELERATOR_RECIPES = [name for name, recipe in RECIPES.items()
                       if load_catalog().accelerators[recipe.accelerator].vendor != "none"]


def every_unit(recipe) -> list[tuple[str, DeployPlan]]:
    """(host, unit plan) of every unit of every node of the recipe's deployment."""
    plans = resolve_inventory(recipe_hosts(recipe))
    return [(plan.host, unit) for plan in plans for unit in node_units(plan)]


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
            assert families == TIGHT, (host, unit.unit_name, families)
        else:
            assert families.split() == [*TIGHT.split(), "AF_NETLINK"], (host, unit.unit_name, families)


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
