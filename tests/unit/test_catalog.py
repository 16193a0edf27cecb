"""The catalog loads, its references resolve, and broken data is refused."""

import pytest
from pydantic import ValidationError

from glmstack.catalog import COMMIT_SHA, Catalog, load_catalog


def raw_catalog() -> dict:
    catalog = load_catalog()
    return catalog.model_dump()


def test_catalog_loads_and_every_recipe_names_its_seed():
    catalog = load_catalog()
    assert catalog.recipes, "the catalog has no recipes"
    for recipe in catalog.recipes:
        assert recipe.seed.isdigit() and len(recipe.seed) == 3


def test_llamacpp_is_pinned_to_a_commit():
    assert COMMIT_SHA.match(load_catalog().engines["llama.cpp"].version)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["recipes"][0].update(engine="llama.cpp"), "engine not supported by the accelerator"),
        (lambda c: c["recipes"][0].update(model="glm-9"), "unknown model"),
        (lambda c: c["recipes"].append(dict(c["recipes"][0])), "defined twice"),
        (lambda c: c["accelerators"]["cpu"].update(engines=["tgi"]), "unknown engine 'tgi'"),
        (lambda c: c["recipes"][0]["tunables"].update(max_batch=4), "unknown tunables"),
        (lambda c: c["models"]["glm-5.2-gguf"].update(revision="main"), "40-character commit sha"),
        (lambda c: c["engines"]["llama.cpp"]["flags"].pop("port"), "flags lacks ['port']"),
        (lambda c: c["engines"]["llama.cpp"]["flags"].pop("max_num_seqs"),
         "engine llama.cpp has no argument for max_num_seqs"),
        (lambda c: c["engines"]["vllm"].update(multinode_head=[]), "engine vllm has no multi-node arguments"),
    ],
    ids=["engine-not-on-accelerator", "unknown-model", "duplicate-recipe", "unknown-engine", "unknown-tunable",
         "branch-as-revision", "missing-port-flag", "missing-tunable-flag", "no-multinode-arguments"],
)
def test_broken_catalog_is_refused(mutate, message):
    data = raw_catalog()
    mutate(data)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Catalog.model_validate(data)
