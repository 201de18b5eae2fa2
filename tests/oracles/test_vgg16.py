"""VGG-16 against the notes' table ("VGGNet in detail"), row by row.

The notes print 22 rows: INPUT, 13 CONV3, 5 POOL2 and 3 FC, each with its activations
("memory") and weights. convcalc's table also has RELU rows, which work in place (no
activations, no weights), so the comparison skips them.
"""

from __future__ import annotations

import json

import convcalc

from ..support import run

# (type, output, activations, weights) exactly as the notes write them
NOTES_TABLE = [
    ("INPUT", (224, 224, 3), 224 * 224 * 3, 0),
    ("CONV", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64),
    ("CONV", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64),
    ("POOL", (112, 112, 64), 112 * 112 * 64, 0),
    ("CONV", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128),
    ("CONV", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128),
    ("POOL", (56, 56, 128), 56 * 56 * 128, 0),
    ("CONV", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256),
    ("CONV", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("CONV", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("POOL", (28, 28, 256), 28 * 28 * 256, 0),
    ("CONV", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512),
    ("CONV", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("CONV", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("POOL", (14, 14, 512), 14 * 14 * 512, 0),
    ("CONV", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("CONV", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("CONV", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("POOL", (7, 7, 512), 7 * 7 * 512, 0),
    ("FC", (1, 1, 4096), 4096, 7 * 7 * 512 * 4096),
    ("FC", (1, 1, 4096), 4096, 4096 * 4096),
    ("FC", (1, 1, 1000), 1000, 4096 * 1000),
]
# the weights column as the notes print it, with thousands separators
NOTES_WEIGHTS_PRINTED = [
    0, 1_728, 36_864, 0, 73_728, 147_456, 0, 294_912, 589_824, 589_824, 0, 1_179_648,
    2_359_296, 2_359_296, 0, 2_359_296, 2_359_296, 2_359_296, 0, 102_760_448, 16_777_216,
    4_096_000,
]  # fmt: skip


def vgg16() -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load("vgg16"))


def test_table_row_by_row() -> None:
    a = vgg16()
    rows = [r for r in a.rows if r.type != "RELU"]
    assert len(rows) == 22 == len(NOTES_TABLE)
    got = [(r.type, r.output, r.activations, r.weights) for r in rows]
    assert got == NOTES_TABLE
    assert [r.weights for r in rows] == NOTES_WEIGHTS_PRINTED


def test_relu_rows_are_in_place() -> None:
    relus = [r for r in vgg16().rows if r.type == "RELU"]
    assert len(relus) == 15
    assert all(r.activations == 0 and r.params == 0 and r.in_place for r in relus)


def test_totals() -> None:
    t = vgg16().totals
    assert t.activations == sum(row[2] for row in NOTES_TABLE) == 15_237_608
    assert t.weights == sum(row[3] for row in NOTES_TABLE) == 138_344_128
    assert t.biases == 13_416 == 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 2 * 4096 + 1000
    assert t.params == 138_357_544
    assert t.macs == 15_470_264_320


def test_macs_by_the_naive_formula() -> None:
    # every CONV: W2*H2*K*F*F*D1; every FC: inputs*K
    expected = 0
    for layer_type, (w, h, _), _, weights in NOTES_TABLE:
        if layer_type == "CONV":
            expected += w * h * weights
        elif layer_type == "FC":
            expected += weights
    assert vgg16().totals.macs == expected


def test_the_notes_total_does_not_match_their_rows() -> None:
    # The notes say "TOTAL memory: 24M * 4 bytes ~= 93MB / image"; their own rows add up to
    # 15.2M values (58 MB). The 24M comes from rounding each row up to a friendly figure
    # (3.2M, 1.6M, ...) and summing loosely; the README explains this.
    a = vgg16()
    assert 15_000_000 < a.totals.activations < 16_000_000
    assert round(a.totals.activations * 4 / 1024**2, 2) == 58.13
    # "the first FC layer contains 100M weights, out of a total of 140M"
    fc1 = next(r for r in a.rows if r.type == "FC")
    assert round(fc1.weights / 1e6) == 103 and round(a.totals.params / 1e6) == 138


# conv1 comes from the CONV of the `stage` block's body, `  stage(c, n): "[CONV(c) -> ...`:
# line 12 of specs/vgg16.yaml, column 18 (1-based)
STAGE_LINE, STAGE_COLUMN = 12, 18


def test_vgg16_json() -> None:
    result = run("check", "vgg16", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["version"] == 1
    (r,) = doc["results"]
    assert r["file"] == "vgg16 (bundled)" and r["name"] == "VGG-16" and r["ok"] is True
    assert r["input"] == [224, 224, 3] and r["output"] == [1, 1, 1000]
    assert r["totals"] == {
        "params": 138_357_544,
        "weights": 138_344_128,
        "biases": 13_416,
        "buffers": 0,
        "macs": 15_470_264_320,
        "activations": 15_237_608,
    }
    first, conv1 = r["layers"][:2]
    assert first["type"] == "INPUT" and first["activations"] == 150_528
    assert conv1 == {
        "name": "conv1",
        "type": "CONV",
        "inputs": [[224, 224, 3]],
        "output": [224, 224, 64],
        "weights": 1728,
        "biases": 64,
        "params": 1792,
        "buffers": 0,
        "macs": 86_704_128,
        "activations": 3_211_264,
        "receptive_field": [3, 3],
        "line": STAGE_LINE,
        "column": STAGE_COLUMN,
    }
    # the notes: most parameters sit in the first FC layer (infos, no warning)
    assert [(f["code"], f["layer"], f["severity"]) for f in r["findings"]] == [
        ("CC403", "fc1", "info"),
        ("CC508", "fc1", "info"),
    ]
