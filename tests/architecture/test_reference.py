"""The architecture-file reference is generated from the layers' declarations: the README
section and the committed JSON Schema are exactly what the generator writes, and the schema
accepts and refuses what the file reader accepts and refuses."""

import copy
import json
from pathlib import Path

import pytest

from profondo.architecture import load_dict, reference, zoo
from profondo.architecture.schema import SpecError, file_kinds, parse_entry
from profondo.nn.vocabulary import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `python -m profondo.architecture.reference --write`"


def test_the_readme_section_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert reference.replace_section(readme, reference.markdown()) == readme, REGENERATE


def test_the_committed_schema_is_the_generated_one():
    assert reference.SCHEMA_PATH.read_text() == reference.schema_text(), REGENERATE


def test_every_kind_and_field_is_documented():
    text = " ".join(reference.markdown().split())
    for name, kind in file_kinds().items():
        assert f"**`{name}`**" in text
        for field in kind.fields:
            assert f"`{field}`" in text
    assert "`rate` = `0.5`" in text  # dropout's default rate
    assert "outputs logits" in text and "`bias: false`" in text and "Graph form" in text


jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(reference.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _layer_validator(validator, node=False):
    schema = {**validator.schema, "$ref": f"#/$defs/{'node' if node else 'layer'}"}
    for key in ("properties", "required", "oneOf", "additionalProperties", "type"):
        schema.pop(key, None)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", zoo.names())
def test_the_schema_accepts_every_zoo_file(validator, name):
    assert not list(validator.iter_errors(load_dict(zoo.path(name))))


BAD_VALUES = [-1, 0, 1.5, "x", True, None, [1, 2, 3], [2, 2], 2, 0.5, "avg", "floor", "relu", 10**9]  # (JSON has no 2.0 vs 2)


def _reader_accepts(entry, node=False) -> bool:
    try:
        parse_entry(entry, 0, node=node)
        return True
    except SpecError:
        return False


def test_the_schema_agrees_with_the_file_reader_on_every_field(validator):
    """For every kind and field, a range of values: the schema says valid exactly when the reader does."""
    layer, node = _layer_validator(validator), _layer_validator(validator, node=True)
    checked = 0
    for name, kind in file_kinds().items():
        required = {f: 3 if "size" in f else 4 for f, field in kind.fields.items() if field.default is REQUIRED}
        for field_name in kind.fields:
            for value in BAD_VALUES:
                fields = {**copy.deepcopy(required), field_name: value}
                entry = {name: fields}
                for check, as_node in ((layer, False), (node, True)):
                    # merging kinds: graph form only (the builder refuses them in a chain)
                    expected = _reader_accepts(entry, as_node) and (as_node or not kind.merging)
                    assert check.is_valid(entry) == expected, (name, field_name, value, as_node)
                    checked += 1
        alone = name
        assert layer.is_valid(alone) == (_reader_accepts(alone) and not kind.merging), name
    assert checked > 500
    assert not layer.is_valid({"conv": {"filters": 4, "size": 3, "colour": "red"}})  # unknown field
    assert not layer.is_valid({"conv": {"filters": 4}})  # a required field missing
    assert not layer.is_valid({"nosuch": {}}) and not layer.is_valid({"conv": {"filters": 1, "size": 1}, "dense": {}})
