"""The JSON Schema for editors: generated, kept in the repository, true to the validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from convcalc.frontend import bundled
from convcalc.report.json_schema import json_schema

from ..support import ROOT, run

SCHEMA_FILE = ROOT / "convcalc.schema.json"
MODELINE = "# yaml-language-server: $schema=../convcalc.schema.json"  # specs/ -> root


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_repository_keeps_the_generated_schema() -> None:
    printed = run("schema").output
    assert json.loads(printed) == json_schema()
    hint = "regenerate it: convcalc schema -o convcalc.schema.json"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed, hint


def test_draft_07_without_prefix_items() -> None:
    schema = json_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "prefixItems" not in json.dumps(schema)
    assert schema["properties"]["arch"]["description"].startswith("The architecture")
    conv = schema["properties"]["defaults"]["properties"]["CONV"]["properties"]
    assert conv["F"]["description"].startswith("filter size")


@pytest.mark.parametrize("name", bundled.names())
def test_every_bundled_spec_validates_and_has_the_modeline(name: str) -> None:
    found = bundled.path(name)
    assert found is not None, name
    path = Path(found)
    assert path is not None
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE, "specs/ is at the root: ../convcalc.schema.json"
    assert list(validator().iter_errors(yaml.safe_load(text))) == []


def test_a_misspelt_key_is_rejected() -> None:
    found = bundled.path("vgg16")
    assert found is not None, "vgg16"
    path = Path(found)
    assert path is not None
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["arhc"] = doc.pop("arch")
    messages = sorted(e.message for e in validator().iter_errors(doc))
    assert messages == [
        "'arch' is a required property",
        "Additional properties are not allowed ('arhc' was unexpected)",
    ]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["defaults"]["CONV"]["stride"] = 2
    assert [e.message for e in validator().iter_errors(doc)] == [
        "Additional properties are not allowed ('stride' was unexpected)"
    ]


def test_the_modern_layers_in_defaults() -> None:
    layers = json_schema()["properties"]["defaults"]["properties"]
    assert layers["DROPPATH"]["properties"]["p"] == {
        "description": "probability of dropping the branch, per sample, in training",
        "type": "number", "minimum": 0, "maximum": 1,
    }  # fmt: skip
    assert "default 1e-06" in layers["LN"]["properties"]["eps"]["description"]
    assert layers["SCALE"]["properties"] == {}
    assert list(layers["LINEAR"]["properties"]) == ["K", "bias"]
    for name in ("RELU6", "HSWISH", "HSIGMOID", "SILU", "SWISH"):
        assert "keeps a copy" in layers[name]["properties"]["inplace"]["description"], name
    doc = {"name": "t", "input": "8x8x3", "arch": "INPUT -> LN",
           "defaults": {"DROPPATH": {"p": 0.2}, "LN": {"eps": 1e-5}}}  # fmt: skip
    assert list(validator().iter_errors(doc)) == []
    doc["defaults"] = {"DROPPATH": {"p": 2}}
    messages = [e.message for e in validator().iter_errors(doc)]
    assert messages == ["2 is greater than the maximum of 1"]


def test_json_lines_hold_no_object_and_read_back_as_written() -> None:
    """An array's entries with no object inside are one line each (a `{` in a string does
    not fool it), the rest is indented, and the text parses back to the same document."""
    from convcalc.report.escape import json_dumps

    doc = {
        "layers": [{"name": "a{b", "shape": [1, 2, 3], "nested": [[1], [2]]}, {"name": "c"}],
        "memory": {"batch": 1, "dtype": "float32"},
        "findings": [{"code": "CC1", "where": {"line": 3}}],
        "empty": [],
        "shape": [4, 5],
    }
    text = json_dumps(doc)
    assert json.loads(text) == doc
    lines = text.splitlines()
    assert '    {"name": "a{b", "shape": [1, 2, 3], "nested": [[1], [2]]},' in lines
    assert '    {"name": "c"}' in lines
    assert '    "batch": 1,' in lines  # an object that is no array entry: indented
    assert '        "line": 3' in lines  # an entry holding an object: indented
    assert '  "shape": [4, 5]' in lines and '  "empty": [],' in lines
