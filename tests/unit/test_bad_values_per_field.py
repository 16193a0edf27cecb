"""A bad-value corpus generated from the schema: for every field of HostConfig, values of the wrong
type, and for every field holding strings (itself, its items, its keys and values) a newline and a
NUL, are refused with one line naming the host and that field. A new field is covered as it is added."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest
from hostdata import CPU_MIRROR

from glmstack.catalog import load_catalog
from glmstack.config import HostConfig, InventoryError, resolve_inventory

ERROR_LINE = re.compile(r"^host \S+: field \S+: \S")
# A value of each kind, and the kinds a field of each type must refuse.
SAMPLES: dict[type, list[typing.Any]] = {
    bool: [True, False], int: [1, 8000], float: [0.5], str: ["x", "8000", "true"], list: [["x"]],
    dict: [{"x": "y"}], tuple: [("x",)], type(None): [None],
}


def kinds(annotation) -> set[type]:
    """The Python types a field's annotation accepts (list[str] -> {list}; Path -> {str})."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return set().union(*(kinds(arg) for arg in typing.get_args(annotation)))
    origin = typing.get_origin(annotation) or annotation
    if origin is Path:
        return {str}
    if origin is float:
        return {float, int}
    return {origin}


def wrong_values(annotation) -> list[typing.Any]:
    accepted = kinds(annotation)
    values = [value for kind, samples in SAMPLES.items() if kind not in accepted for value in samples]
    if bool in accepted:
        values = [value for value in values if not isinstance(value, int)] + [1, 0]
    return [value for value in values if value is not None]


def with_text(annotation, text: str) -> list[typing.Any]:
    """Values of the field's own shape with `text` in each place a string goes."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return [value for arg in typing.get_args(annotation) for value in with_text(arg, text)]
    origin = typing.get_origin(annotation) or annotation
    if origin in (str, Path):
        return [f"/x{text}y" if origin is Path else f"x{text}y"]
    if origin is list:
        return [["ok", item] for item in with_text(typing.get_args(annotation)[0], text)]
    if origin is dict:
        return [{f"K{text}": "v"}, {"K": f"v{text}"}]
    return []


FIELDS = HostConfig.model_fields
WRONG = [(name, value) for name, info in FIELDS.items() for value in wrong_values(info.annotation)]
TEXT = [(name, char, value) for name, info in FIELDS.items() for char in ("\n", "\x00")
        for value in with_text(info.annotation, char)]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def refusal(field: str, value, catalog) -> str:
    with pytest.raises(InventoryError) as error:
        resolve_inventory([("cpu-1", {**CPU_MIRROR, field: value})], catalog)
    lines = str(error.value).splitlines()
    assert all(ERROR_LINE.match(line) for line in lines), lines
    mine = [line for line in lines if re.match(rf"host cpu-1: field {field}[.:]", line)]
    assert len(mine) == 1, lines
    return mine[0]


def test_the_corpus_covers_every_field_and_every_string_field():
    assert {name for name, _ in WRONG} == set(FIELDS)
    strings = {name for name, info in FIELDS.items() if kinds(info.annotation) & {str, list, dict}}
    assert {name for name, _, _ in TEXT} == strings
    assert len(WRONG) > 4 * len(FIELDS) and len(TEXT) > 2 * len(strings)


@pytest.mark.parametrize(("field", "value"), WRONG, ids=[f"{name}={value!r}" for name, value in WRONG])
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(field, value, catalog):
    refusal(field, value, catalog)


@pytest.mark.parametrize(("field", "char", "value"), TEXT,
                         ids=[f"{name}-{'newline' if char == chr(10) else 'NUL'}-{i}" for i, (name, char, _) in
                              enumerate(TEXT)])
def test_a_newline_or_nul_in_a_string_is_refused_naming_the_field(field, char, value, catalog):
    line = refusal(field, value, catalog)
    assert f"control character (U+{ord(char):04X}" in line, line
