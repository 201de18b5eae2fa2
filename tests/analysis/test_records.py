"""The Python API meets pandas: `Analysis.to_records()` gives flat dicts with the JSON layer
fields, `Totals.as_dict()` and `Memory.as_dict()` keyed dicts that `json.dumps` takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

import convcalc

from ..support import run

#: VGG-16 as the CS231n notes tabulate it ("VGGNet in detail"): conv1 is CONV3-64 on 224×224×3
#: with (3·3·3)·64 = 1,728 weights, fc1 has 7·7·512·4096 = 102,760,448; 138M in all (the paper).
VGG16_PARAMS = 138_357_544
FLAT = (str, int, type(None))


@pytest.fixture(scope="module")
def vgg16() -> convcalc.Analysis:
    return convcalc.analyze("vgg16")


def json_layers(name: str) -> list[dict[str, Any]]:
    """The layers of `convcalc check NAME --format json`: the JSON report's own rendering."""
    (result,) = json.loads(run("check", name, "--format", "json").output)["results"]
    layers: list[dict[str, Any]] = result["layers"]
    return layers


def test_records_are_flat_and_hold_every_json_layer_field(vgg16: convcalc.Analysis) -> None:
    records = vgg16.to_records()
    layers = json_layers("vgg16")
    assert len(records) == len(layers) == len(vgg16.rows)
    for record, layer in zip(records, layers, strict=True):
        assert all(isinstance(v, (*FLAT, list)) for v in record.values())
        for key in ("name", "type", "weights", "biases", "params", "buffers", "macs",
                    "activations", "line", "column"):  # fmt: skip
            assert record[key] == layer[key], key
        assert [record["output_w"], record["output_h"], record["output_d"]] == layer["output"]
        first = layer["inputs"][0] if layer["inputs"] else [None, None, None]
        assert [record["input_w"], record["input_h"], record["input_d"]] == first
        assert [record["receptive_field_w"], record["receptive_field_h"]] == layer[
            "receptive_field"
        ]
        assert record["file"] == "vgg16 (bundled)"
    json.dumps(records)


def test_records_against_the_notes(vgg16: convcalc.Analysis) -> None:
    by_name = {r["name"]: r for r in vgg16.to_records()}
    conv1 = by_name["conv1"]
    assert (conv1["input_w"], conv1["input_h"], conv1["input_d"]) == (224, 224, 3)
    assert (conv1["output_w"], conv1["output_h"], conv1["output_d"]) == (224, 224, 64)
    assert conv1["weights"] == 3 * 3 * 3 * 64 and conv1["params"] == 3 * 3 * 3 * 64 + 64
    assert by_name["fc1"]["weights"] == 7 * 7 * 512 * 4096
    assert sum(r["params"] for r in by_name.values()) == VGG16_PARAMS


def test_records_name_the_inputs_of_a_merge() -> None:
    result = convcalc.analyze("resnet18")
    records = {r["name"]: r for r in result.to_records()}
    add = next(r for r in records.values() if r["type"] == "ADD")
    assert len(add["input_layers"]) == 2
    for name in add["input_layers"]:  # each input is a row; the ADD's volume is theirs
        source = records[name]
        assert (source["output_w"], source["output_h"], source["output_d"]) == (
            add["output_w"], add["output_h"], add["output_d"])  # fmt: skip
    assert records["input"]["input_layers"] == [] and records["input"]["input_w"] is None


def test_records_feed_a_dataframe(vgg16: convcalc.Analysis) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(vgg16.to_records())
    assert {"params", "output_w", "output_h", "output_d", "line", "column"} <= set(frame.columns)
    assert int(frame["params"].sum()) == VGG16_PARAMS
    assert int(frame.loc[frame["name"] == "conv1", "output_d"].iloc[0]) == 64


def test_totals_as_dict_is_the_json_totals(vgg16: convcalc.Analysis) -> None:
    (result,) = json.loads(run("check", "vgg16", "--format", "json").output)["results"]
    totals = vgg16.totals.as_dict()
    assert totals == result["totals"]
    assert json.loads(json.dumps(totals))["params"] == VGG16_PARAMS
    assert list(totals) == ["params", "weights", "biases", "buffers", "macs", "activations"]


def test_memory_as_dict_is_the_json_memory_with_its_per_image_parts(
    vgg16: convcalc.Analysis,
) -> None:
    assert vgg16.memory is not None
    (result,) = json.loads(run("check", "vgg16", "--format", "json").output)["results"]
    memory = json.loads(json.dumps(vgg16.memory.as_dict()))
    per_image = memory.pop("per_image")
    assert memory == result["memory"]
    # the notes: VGG-16's activations are 15,237,608 values a forward pass (the sum of the rows)
    assert per_image["activations"] == 15_237_608 * 4 == memory["activations"]
    assert memory["parameters"] == VGG16_PARAMS * 4
