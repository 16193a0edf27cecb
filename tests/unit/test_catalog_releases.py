"""Engine releases are keyed apart from the recipes that use them: a recipe may name its own
engine_release and gets that release's packages, version and known limitations, while every
other recipe keeps its engine's default_release; a release nobody has is one clear line."""

import pytest

from glmstack.catalog import Catalog, CatalogError, load_catalog, parse_catalog
from glmstack.config import resolve
from glmstack.examples import recipe_hosts

NEXT = "0.24.0"  # a release of this test catalog only


def _data() -> dict:
    """The shipped catalog's data, as its files give it."""
    return load_catalog().model_dump(by_alias=True)


def _with_next_release(data: dict) -> dict:
    """vLLM gains a release with its own wheels and no known limitations, and the FP8 H200 recipe
    a variant pinned to it."""
    vllm = data["engines"]["vllm"]
    release = {"python_packages": {"nvidia": {"13.0": {"requirements": ["vllm=={version}", "vllm-next-extras"]}}},
               "limitations": []}
    vllm["releases"] = {**vllm["releases"], NEXT: release}
    h200 = next(r for r in data["recipes"] if (r["model"], r["accelerator"], r["engine"], r["variant"])
                == ("glm-5.2-fp8", "h200", "vllm", "default"))
    data["recipes"].append({**h200, "variant": "next", "engine_release": NEXT})
    return data


def test_the_shipped_catalog_reads_back_from_its_dump():
    assert parse_catalog(_data()) == load_catalog()


def test_a_recipe_pinning_another_release_gets_its_packages_the_others_keep_the_default():
    catalog = parse_catalog(_with_next_release(_data()))
    pinned = catalog.recipe("glm-5.2-fp8", "h200", "vllm", "next")
    default = catalog.recipe("glm-5.2-fp8", "h200", "vllm")
    assert catalog.release_for(pinned).version == NEXT
    assert catalog.release_for(default).version == catalog.engines["vllm"].default_release == "0.23.0"
    assert all(catalog.release_for(r).version == catalog.engines[r.engine].default_release
               for r in catalog.recipes if r is not pinned)

    (name, data), = recipe_hosts(pinned, catalog)
    plan = resolve(name, data, catalog)
    assert plan.engine_env.version == NEXT
    assert plan.engine_env.requirements[:2] == ("vllm==0.24.0", "vllm-next-extras")
    assert not plan.limitations  # 0.23.0's tool-calling-with-MTP limitation is not 0.24.0's

    (name, data), = recipe_hosts(default, catalog)
    plan = resolve(name, data, catalog)
    assert plan.engine_env.version == "0.23.0"
    assert plan.engine_env.requirements[0] == "vllm==0.23.0" and "vllm-next-extras" not in plan.engine_env.requirements
    assert [limit.name for limit in plan.limitations] == ["tool-calling-with-mtp"]


def test_an_unknown_release_is_one_line_naming_the_recipe():
    data = _data()
    data["recipes"][0]["engine_release"] = "vllm-9.9"
    with pytest.raises(CatalogError) as raised:
        parse_catalog(data)
    assert str(raised.value) == ("catalog: recipe glm-5.2-fp8/h200/vllm/default: engine_release 'vllm-9.9' is not "
                                 "a release of vllm; releases: 0.23.0")


def test_a_default_release_that_is_not_listed_is_one_line_naming_the_engine():
    data = _data()
    data["engines"]["sglang"]["default_release"] = "0.5.22"
    with pytest.raises(CatalogError) as raised:
        parse_catalog(data)
    assert str(raised.value) == ("catalog: engines.sglang: default_release '0.5.22' is not one of its releases: "
                                 "0.5.21")


def test_an_ascend_release_must_be_in_the_versioning_table():
    data = _data()
    data["engines"]["vllm-ascend"]["releases"]["0.24.0"] = {}
    with pytest.raises(CatalogError, match="release 0.24.0 is not in ascend.vllm_ascend"):
        parse_catalog(data)


def test_catalog_models_take_the_dump_of_catalog_models():
    assert Catalog.model_validate(_data()).engines["vllm"].version == "0.23.0"
