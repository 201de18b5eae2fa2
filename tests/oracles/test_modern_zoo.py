"""The modern bundled specs of issue 13 (MobileNetV3, EfficientNet-B0, ShuffleNetV2,
RegNetY, ConvNeXt): their published parameter counts, their structure as the papers draw it,
the real activations, and `convcalc run` confirming every shape at the spec's own input.

torchvision publishes each parameter count in its weights' metadata (num_params); the MAC
totals are pinned in test_zoo.py and compared with torchvision's modules layer by layer in
test_torchvision_parity.py. AlexNet and VGG16-BN hold their classifier's input with an
adaptive pool, so their counts are torchvision's at any input large enough.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

import convcalc

from ..support import run

# torchvision's num_params, as the issue lists them
PUBLISHED = {
    "mobilenet-v3-large": 5_483_032,
    "mobilenet-v3-small": 2_542_856,
    "efficientnet-b0": 5_288_548,
    "shufflenet-v2-x1-0": 2_278_604,
    "regnet-y-400mf": 4_344_144,
    "convnext-tiny": 28_589_128,
}


def types(name: str) -> Counter[str]:
    return Counter(row.type for row in convcalc.analyze(convcalc.load(name)).rows)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name: str) -> None:
    a = convcalc.analyze(convcalc.load(name))
    assert a.ok and a.output == (1, 1, 1000)
    assert a.totals.params == PUBLISHED[name]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 15 bnecks: SE in 8, RES in the 10 that keep their shape; hard-swish in 9 (twice
        # each), the stem, the last conv and the head
        ("mobilenet-v3-large",
         {"MUL": 8, "HSIGMOID": 8, "ADD": 10, "HSWISH": 2 * 9 + 3, "DROPPATH": 0, "SIGMOID": 0}),
        ("mobilenet-v3-small",
         {"MUL": 9, "HSIGMOID": 9, "ADD": 6, "HSWISH": 2 * 8 + 3, "SIGMOID": 0}),
        # 16 MBConvs, each with SE; stochastic depth on the 9 residual ones; SiLU in the stem,
        # MBConv1 (depthwise, SE), 15 MBConv6 (expansion, depthwise, SE) and the last conv
        ("efficientnet-b0",
         {"MUL": 16, "SIGMOID": 16, "ADD": 9, "DROPPATH": 9, "SILU": 1 + 2 + 15 * 3 + 1,
          "RELU": 0}),
        # 16 units: 3 downsampling (CAT of two branches), 13 basic (a SLICE pair each)
        ("shufflenet-v2-x1-0", {"CAT": 16, "SHUFFLE": 16, "SLICE": 26}),
        # 16 blocks with SE and a sigmoid gate; 4 projections from SKIP
        ("regnet-y-400mf", {"ADD": 16, "MUL": 16, "SIGMOID": 16}),
        # 18 blocks: LN, an MLP of two LINEARs with GELU, layer scale, stochastic depth
        ("convnext-tiny",
         {"ADD": 18, "LINEAR": 36, "GELU": 18, "SCALE": 18, "DROPPATH": 18, "LN": 18 + 1 + 3 + 1,
          "BN": 0, "RELU": 0}),
    ],
)  # fmt: skip
def test_the_units_and_activations_of_the_papers(name: str, expected: dict[str, int]) -> None:
    counted = types(name)
    assert {kind: counted[kind] for kind in expected} == expected


def test_regnet_y_squeezes_to_a_quarter_of_each_block_input() -> None:
    a = convcalc.analyze(convcalc.load("regnet-y-400mf"))
    squeezes = [r.output[2] for r in a.rows if r.type == "CONV" and r.input_shapes[0][:2] == (1, 1)
                and r.biases and r.output[2] < r.input_shapes[0][2]]  # fmt: skip
    # stages of 1, 3, 6, 6 blocks; the first block of a stage squeezes its predecessor's width
    assert squeezes == [32 // 4, 48 // 4, *[104 // 4] * 2, 104 // 4, *[208 // 4] * 5,
                        208 // 4, *[440 // 4] * 5]  # fmt: skip


@pytest.mark.parametrize("size", [(224, 224), (256, 256), (320, 240), (227, 227), (512, 384)])
@pytest.mark.parametrize(
    ("name", "params", "pooled"),
    [("alexnet-torchvision", 61_100_840, (6, 6, 256)), ("vgg16-bn", 138_365_992, (7, 7, 512))],
)
def test_an_adaptive_pool_holds_the_classifier_at_any_input(
    name: str, params: int, pooled: tuple[int, int, int], size: tuple[int, int]
) -> None:
    a = convcalc.analyze(convcalc.load(name), input=(*size, 3))
    assert a.ok, [f.render() for f in a.findings]
    avgpool = next(r for r in a.rows if r.name == "avgpool")
    assert avgpool.type == "APOOL" and avgpool.output == pooled
    assert a.totals.params == params  # torchvision's AlexNet at 256×256: 61,100,840


def test_written_as_id_the_alexnet_classifier_would_grow_at_256() -> None:
    """The issue's figure: with ID instead of the adaptive pool, 74,732,328 at 256×256."""
    spec = convcalc.load("alexnet-torchvision")
    as_id = convcalc.load(spec.file.text.replace("APOOL(6)@avgpool", "ID@avgpool"))
    assert convcalc.analyze(as_id, input=(256, 256, 3)).totals.params == 74_732_328


SLOW = {"convnext-tiny", "regnet-y-400mf", "efficientnet-b0"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in PUBLISHED]
)
def test_convcalc_run_confirms_every_shape(name: str) -> None:
    result = run("run", name, "--format", "json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    layers = doc["layers"]
    assert len(layers) == len(convcalc.analyze(convcalc.load(name)).rows)
    assert all(layer["match"] and layer["expected"] == layer["actual"] for layer in layers)
    assert layers[-1]["actual"] == [1, 1, 1000]
