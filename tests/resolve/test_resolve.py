"""Resolve tier: every engine environment the catalog can produce resolves, for its own target.

Each environment (resolve_environments.py: every recipe, platform line and CPU architecture, for every
Python and manylinux platform its hosts have) is resolved by uv 0.13.9, the nodes' uv, with the
exact requirements, torch backend and indexes the plan gives the node (resolve_uv.py). A conflict
fails, naming the recipes and uv's own account of the requirements in conflict. For every model
the environment serves, the transformers it resolves must know the model's model_type in its own
registry (the wheel installed once, under ~/.cache/glmstack-resolve). Network: PyPI only; what
lives elsewhere is stood in from PyPI where PyPI publishes it, or skipped naming the index.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import pytest
from resolve_environments import environments
from resolve_uv import REPORT, resolve, transformers_knows, uv_is_the_nodes

ENVIRONMENTS, NOT_CATALOG = environments()
ID = {id(environment): environment.name for environment in ENVIRONMENTS}


@pytest.fixture(scope="session")
def outcomes():
    """Every environment resolved once, a few at a time (uv waits on the index, not the CPU)."""
    assert uv_is_the_nodes(), "the resolve tier needs the nodes' uv (pip install -e .[test])"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip([e.name for e in ENVIRONMENTS],
                           pool.map(lambda e: resolve(e.env, e.target), ENVIRONMENTS), strict=True))
    for name, outcome in results.items():
        REPORT[name] = asdict(outcome)
    return results


def test_every_recipe_with_a_python_engine_has_an_environment():
    from glmstack.catalog import load_catalog

    catalog = load_catalog()
    covered = {line.split(" (")[0] for environment in ENVIRONMENTS for line in environment.recipes}
    python_engines = {r.engine for r in catalog.recipes if catalog.release_for(r).python_packages}
    python_engines |= {name for name, a in catalog.accelerators.items() if a.vendor == "huawei" for name in a.engines}
    expected = {f"{r.model}/{r.accelerator}/{r.engine}/{r.variant}" for r in catalog.recipes
                if r.engine in python_engines}
    assert expected - covered == {recipe for recipe, _ in NOT_CATALOG}
    assert len({e.target.arch for e in ENVIRONMENTS}) == 2 and len({e.target.python for e in ENVIRONMENTS}) >= 3


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=[e.name for e in ENVIRONMENTS])
def test_environment_resolves_and_knows_its_models(environment, outcomes):
    outcome = outcomes[environment.name]
    where = (f"{environment.name} for Python {environment.target.python} on {environment.target.platform}, "
             f"used by {', '.join(environment.recipes)}")
    if outcome.status == "skipped":
        pytest.skip(f"{environment.name}: {outcome.message}")
    assert outcome.status == "resolved", (
        f"{where}: the requirements {list(environment.env.requirements)} do not resolve:\n{outcome.message}")
    for model_type in sorted(environment.model_types):
        version = outcome.pins.get("transformers")
        assert version, f"{where}: no transformers in the resolution, so nothing knows {model_type}"
        knows, detail = transformers_knows(version, model_type)
        assert knows, f"{where}: it resolves transformers {version}, which cannot load {model_type}: {detail}"
