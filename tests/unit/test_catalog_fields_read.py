"""Every field of the catalog's models is read by the code: a field nothing reads is dead data that
a reader of the YAML would take for a setting that does something.

Attribute reads on the catalog's models (and model_dump, which reads every field) are recorded
while the catalog loads (its cross-references: a recipe's model format against its engine's), every
catalog recipe is planned, printed and rendered (`glmstack plan`, `plan --json`, `render` on its
example hosts) and deployed to fake hosts, every malformed inventory of the bad-input corpus is
refused (the checks that read the catalog only for some settings), and the other readers of
catalog data run (the settings docs)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

import glmstack.catalog as catalog_module
from glmstack.catalog import Strict, load_catalog

TESTS = Path(__file__).resolve().parents[1]
INFRA = TESTS / "infra"
sys.path[:0] = [str(TESTS / "plan"), str(TESTS / "resolve")]
# Read only by the real-host checks, inside tests that need the host: the field, and where it is read.
READ_ON_REAL_HOSTS = {("Accelerator", "device_name"): INFRA / "test_nvidia.py"}

MODELS = sorted((model for model in vars(catalog_module).values()
                 if isinstance(model, type) and issubclass(model, BaseModel) and model.model_fields
                 and model.__module__ == catalog_module.__name__), key=lambda model: model.__name__)


@contextlib.contextmanager
def recording_reads():
    """(model name, field) for every field read on a catalog model instance inside the block."""
    reads: set[tuple[str, str]] = set()
    original, original_dump = Strict.__getattribute__, Strict.model_dump

    def recording(self, name):
        value = original(self, name)
        if name in type(self).model_fields:
            reads.add((type(self).__name__, name))
        return value

    def dumped(value) -> None:
        if isinstance(value, Strict):
            for name in type(value).model_fields:
                dumped(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                dumped(item)
        elif isinstance(value, list | tuple):
            for item in value:
                dumped(item)

    def recording_dump(self, *args, **kwargs):
        dumped(self)
        return original_dump(self, *args, **kwargs)

    Strict.__getattribute__, Strict.model_dump = recording, recording_dump
    try:
        yield reads
    finally:
        Strict.__getattribute__, Strict.model_dump = original, original_dump


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"fields_read_{path.stem}", path)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quietly(call, *args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with contextlib.suppress(SystemExit):
            return call(*args)


def _inventory(hosts: list[tuple[str, dict]], path: Path) -> Path:
    lines = ["from glmstack.inventory import group", "", "hosts = group(["]
    lines += [f"    ({name!r}, {data!r})," for name, data in hosts]
    path.write_text("\n".join([*lines, "])", ""]))
    return path


def _exercise_every_recipe(tmp: Path) -> None:
    from test_ascend_plan import VERSIONS

    from glmstack import cli
    from glmstack.examples import recipe_hosts
    from glmstack.lab.ascend import write_package_set
    from glmstack.planning import plan_inventory
    from glmstack.vendor_repos import vendor_repos

    plain_answer = _module(INFRA / "test_engine.py").plain_answer

    catalog = load_catalog()
    for index, recipe in enumerate(catalog.recipes):
        hosts = recipe_hosts(recipe, catalog)
        if catalog.accelerators[recipe.accelerator].vendor == "huawei":
            packages = tmp / recipe.accelerator
            if not packages.exists():
                write_package_set(packages, recipe.accelerator, "aarch64", VERSIONS)
            hosts = [(name, {**data, "ascend_packages": str(packages)}) for name, data in hosts]
        inventory = _inventory(hosts, tmp / f"recipe{index}.py")
        assert _quietly(cli.main, ["plan", str(inventory)]) == 0, recipe
        assert _quietly(cli.main, ["plan", str(inventory), "--json"]) == 0, recipe
        for name, _ in hosts:
            assert _quietly(cli.main, ["render", str(inventory), name]) == 0, (recipe, name)
        plans = {plan.host: plan for plan in plan_inventory(str(inventory))}
        vendor_repos(plans.values())  # what `glmstack bundle` carries from the vendors' repositories
        _deploy_to_fake_hosts(recipe, hosts, plans)
        for plan in plans.values():
            plain_answer(plan)  # tests/infra asks the served model for a plain answer this way
        assert _quietly(cli.main, ["client", str(inventory), "--offline", "--json"]) == 0, recipe
    # What only some hosts have or ask for: DCGM, an RPM distribution, a converged host.
    h200 = catalog.recipe("glm-5.2-fp8", "h200", "vllm")
    (name, data), = recipe_hosts(h200, catalog)
    inventory = _inventory([(name, {**data, "nvidia_dcgm": True})], tmp / "dcgm.py")
    assert _quietly(cli.main, ["plan", str(inventory)]) == 0
    plans = {plan.host: plan for plan in plan_inventory(str(inventory))}
    _deploy_to_fake_hosts(h200, [(name, {**data, "nvidia_dcgm": True})], plans, rhel=True)
    _deploy_to_fake_hosts(h200, [(name, {**data, "nvidia_dcgm": True})], plans, converged=True)
    # AMD's RPM side (its installer, key and versionlock), read only while deploying to RHEL.
    mi300x = catalog.recipe("glm-5.2-fp8", "mi300x", "vllm")
    hosts = recipe_hosts(mi300x, catalog)
    plans = {plan.host: plan for plan in plan_inventory(str(_inventory(hosts, tmp / "amd-rhel.py")))}
    _deploy_to_fake_hosts(mi300x, hosts, plans, rhel=True)
    # Ascend's installers' upgrade arguments, read only where an older package set is installed.
    ascend = next(recipe for recipe in catalog.recipes if catalog.accelerators[recipe.accelerator].vendor == "huawei")
    hosts = [(name, {**data, "ascend_packages": str(tmp / ascend.accelerator)})
             for name, data in recipe_hosts(ascend, catalog)]
    plans = {plan.host: plan for plan in plan_inventory(str(_inventory(hosts, tmp / "ascend-older.py")))}
    _deploy_to_fake_hosts(ascend, hosts, plans, older=True)


def _deploy_to_fake_hosts(recipe, hosts: list[tuple[str, dict]], plans: dict, converged: bool = False,
                          rhel: bool = False, older: bool = False) -> None:
    """The deploy on fake hosts of the recipe's vendor (the roles read the catalog too): fresh, or
    converged (the service account exists), on the vendor's usual distribution or RHEL 9; `older`:
    an Ascend host with an older version of every package installed."""
    import gpu_states
    from fakehost import run_deploy_on

    catalog = load_catalog()
    vendor = catalog.accelerators[recipe.accelerator].vendor
    fake = []
    for name, data in hosts:
        data = {**data, **({"address": name} if len(hosts) > 1 else {})}
        if vendor == "nvidia":
            state = gpu_states.NvidiaHost(data, plan=plans[name])
            arch = catalog.accelerators[recipe.accelerator].cpu_arch[0]
            if arch != "x86_64":
                state.os(gpu_states.UBUNTU_2404, arch=arch)
            if rhel:
                state.rhel()
        elif vendor == "amd":
            state = gpu_states.AmdHost(data, release=gpu_states.RHEL_9 if rhel else gpu_states.UBUNTU_2404)
        elif vendor == "huawei":
            state = gpu_states.AscendHost(data, plan=plans[name])
            if older:
                state.versions(**{package.component: "0.0.1" for package in plans[name].ascend.packages})
        else:
            state = gpu_states.ConstructedHost(data, [], plans[name])
        if data.get("network_interface"):
            state.answer("for d in /sys/class/net/*", ["lo 127.0.0.1 ::1", f"{data['network_interface']} {name}"])
        if converged and hasattr(state, "converged"):
            state.converged()
        # With the gateway, as the examples plan (tests/plan/fakehost.py turns it off unless asked).
        fake.append((f"@fake/{name}", {"gateway_enabled": True, **data}, state.responses()))
    _quietly(run_deploy_on, fake, "glm52.py", None, True)


def _exercise_bad_input_corpus() -> None:
    import runpy

    corpus = Path(__file__).resolve().parents[1] / "badinput"
    os.chmod(corpus / "world-readable-token", 0o644)
    for private in ("api-key-two-words", "api-key-private"):
        os.chmod(corpus / private, 0o600)
    for case in sorted(corpus.glob("[0-9]*_*.py")):
        _quietly(runpy.run_path, str(case))


def _exercise_other_readers() -> None:
    from glmstack import bench, docs

    docs.all_tables()
    # glmstack bench: the seed's workload, its table, and the tool (tests/unit/test_bench.py).
    bench.result_table({"completed": 1, "num_prompts": 1, "output_throughput": 1.0, "total_token_throughput": 1.0},
                       "run", bench.workload())
    bench.tool_spec()
    # The resolve tier's environments: which model types each environment's transformers must know.
    _module(TESTS / "resolve" / "resolve_environments.py").environments(load_catalog())


@pytest.fixture(scope="module")
def reads(tmp_path_factory) -> set[tuple[str, str]]:
    with recording_reads() as reads:
        load_catalog.cache_clear()
        load_catalog()
        _exercise_every_recipe(tmp_path_factory.mktemp("recipes"))
        _exercise_bad_input_corpus()
        _exercise_other_readers()
    return reads


def test_every_catalog_field_is_read(reads):
    unread = [f"{model.__name__}.{field}" for model in MODELS for field in model.model_fields
              if (model.__name__, field) not in reads | READ_ON_REAL_HOSTS.keys()]
    assert not unread, f"catalog fields nothing reads: {', '.join(unread)}"


def test_the_recorder_sees_reads_and_only_inside_the_block():
    catalog = load_catalog()
    with recording_reads() as reads:
        assert catalog.engines["vllm"].unit_name
    assert catalog.engines["vllm"].binary
    assert ("Engine", "unit_name") in reads and ("Engine", "binary") not in reads


@pytest.mark.parametrize(("field", "reader"), READ_ON_REAL_HOSTS.items(), ids=lambda item: str(item))
def test_fields_read_on_real_hosts_are_read_there(field, reader):
    assert f".{field[1]}" in reader.read_text(), f"{reader.name} no longer reads {'.'.join(field)}"
