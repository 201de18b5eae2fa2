"""The model zoo (issue 6): each bundled spec reproduces its published figures.

The source of every figure is in the spec's own description.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import convcalc
from convcalc import Severity
from convcalc.frontend import bundled

IMAGENET = (1, 1, 1000)
CIFAR10 = (1, 1, 10)


def conv(c_in: int, c_out: int, f: int = 3, positions: int = 1) -> int:
    """Parameters of a biased F×F conv (or MACs, given its output positions and no bias)."""
    return f * f * c_in * c_out * positions + (c_out if positions == 1 else 0)


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def unet_parameters(channels_in: int, classes: int) -> int:
    """Five levels of two 3×3 convs (64 … 1024); below the top, each level is left through a
    2×2 up-convolution halving the channels, whose output joins the skip (CAT) before two
    more 3×3 convs; a 1×1 conv gives the classes."""
    widths = [64, 128, 256, 512, 1024]
    total, previous = 0, channels_in
    for c in widths:
        total += conv(previous, c) + conv(c, c)
        previous = c
    for c in widths[:-1]:
        total += conv(2 * c, c, f=2) + conv(2 * c, c) + conv(c, c)
    return total + conv(64, classes, f=1)


# name: (output, parameters, MACs or None where no figure is published). Parameters are the
# papers' or torchvision's published counts, or a hand computation written out here where
# none is published. The exact MAC totals of the torchvision architectures are checked layer
# by layer against torch's own modules in test_torch_parity.py and against torchvision's
# models in test_torchvision_parity.py (CONV/FC MACs from each module's attributes); they are
# regression figures where torch or torchvision is not installed.
PUBLISHED = {
    "alexnet-caffe": (IMAGENET, 60_965_224, None),
    "alexnet-torchvision": (IMAGENET, 61_100_840, 714_188_480),
    # no published count: the paper's figure 3 by hand, on 110, 26, 13, 13, 13 and 6 wide
    "zfnet": (IMAGENET,
              conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 384) + conv(384, 384)
              + conv(384, 256) + fc(6 * 6 * 256, 4096) + fc(4096, 4096) + fc(4096, 1000),
              conv(3, 96, 7, 110 * 110) + conv(96, 256, 5, 26 * 26) + conv(256, 384, 3, 13 * 13)
              + conv(384, 384, 3, 13 * 13) + conv(384, 256, 3, 13 * 13)
              + 6 * 6 * 256 * 4096 + 4096 * 4096 + 4096 * 1000),
    "vgg11": (IMAGENET, 132_863_336, 7_609_090_048),
    "vgg13": (IMAGENET, 133_047_848, 11_308_466_176),
    "vgg19": (IMAGENET, 143_667_240, 19_632_062_464),
    "googlenet": (IMAGENET, 6_624_904, 1_498_376_192),
    "resnet34": (IMAGENET, 21_797_672, 3_663_761_408),
    "resnet50": (IMAGENET, 25_557_032, 4_089_184_256),
    "resnet101": (IMAGENET, 44_549_160, 7_801_405_440),
    "resnet152": (IMAGENET, 60_192_808, 11_513_626_624),
    "mobilenet-v2": (IMAGENET, 3_504_872, 300_774_272),
    "densenet121": (IMAGENET, 7_978_856, 2_834_161_664),
    "densenet169": (IMAGENET, 14_149_480, 3_359_843_328),
    "squeezenet1-0": (IMAGENET, 1_248_424, 818_924_576),
    "squeezenet1-1": (IMAGENET, 1_235_496, 349_151_936),
    "resnext50-32x4d": (IMAGENET, 25_028_904, 4_230_479_872),
    "wide-resnet50-2": (IMAGENET, 68_883_240, 11_398_021_120),
    "mnasnet1-0": (IMAGENET, 4_383_312, 314_415_872),
    "regnet-x-400mf": (IMAGENET, 5_495_976, 413_812_608),
    "vgg16-bn": (IMAGENET, 138_365_992, 15_470_264_320),
    "mobilenet-v3-large": (IMAGENET, 5_483_032, 216_589_760),
    "mobilenet-v3-small": (IMAGENET, 2_542_856, 56_510_400),
    "efficientnet-b0": (IMAGENET, 5_288_548, 385_814_752),
    "shufflenet-v2-x1-0": (IMAGENET, 2_278_604, 144_907_992),
    "regnet-y-400mf": (IMAGENET, 4_344_144, 401_842_848),
    "convnext-tiny": (IMAGENET, 28_589_128, 4_455_531_264),
    # on 299×299×3 without the auxiliary classifier (it only runs in training): torchvision's
    # 27,161,264 minus AuxLogits' 1×1 conv 768 → 128 and 5×5 conv 128 → 768 (no bias, each
    # with a BN) and its FC 768 → 1000
    "inception-v3": (IMAGENET,
                     27_161_264 - (768 * 128 + 2 * 128) - (5 * 5 * 128 * 768 + 2 * 768)
                     - fc(768, 1000),
                     5_713_216_096),
    # padded, 1 channel in, 2 classes: by hand; the often-quoted 31,031,745 is 3 in, 1 class
    "unet": ((256, 256, 2), unet_parameters(1, 2), None),
    # the notes' patterns on 32×32×3 with 3×3 convs of 32 filters (P=1), 2×2 pools, 10 units
    "pattern-linear": (CIFAR10, fc(32 * 32 * 3, 10), 32 * 32 * 3 * 10),
    "pattern-conv-fc": (CIFAR10, conv(3, 32) + fc(32 * 32 * 32, 10),
                        conv(3, 32, 3, 32 * 32) + 32 * 32 * 32 * 10),
    "pattern-2x-conv-pool": (CIFAR10, conv(3, 32) + conv(32, 32) + fc(8 * 8 * 32, 10) + fc(10, 10),
                             conv(3, 32, 3, 32 * 32) + conv(32, 32, 3, 16 * 16)
                             + 8 * 8 * 32 * 10 + 10 * 10),
    "pattern-3x-conv-conv-pool": (
        CIFAR10,
        conv(3, 32) + 5 * conv(32, 32) + fc(4 * 4 * 32, 10) + 2 * fc(10, 10),
        conv(3, 32, 3, 32 * 32) + conv(32, 32, 3, 32 * 32) + 2 * conv(32, 32, 3, 16 * 16)
        + 2 * conv(32, 32, 3, 8 * 8) + 4 * 4 * 32 * 10 + 2 * 10 * 10,
    ),
}  # fmt: skip


def analysis(name: str, **options: object) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load(name), **options)  # type: ignore[arg-type]


def rows(a: convcalc.Analysis, kind: str) -> list[convcalc.Row]:
    return [r for r in a.rows if r.type == kind]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_figures(name: str) -> None:
    output, params, macs = PUBLISHED[name]
    a = analysis(name)
    assert a.ok, [f.render() for f in a.findings]
    assert a.output == output
    assert a.totals.params == params
    if macs is not None:
        assert a.totals.macs == macs


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_description_names_the_source_and_the_figures(name: str) -> None:
    spec = convcalc.load(name)
    assert spec.description
    text = " ".join(spec.description.split())
    assert f"{PUBLISHED[name][1]:,}" in text
    macs = PUBLISHED[name][2]
    if macs is not None:
        assert f"{macs:,}" in text


def test_alexnet_caffe_groups() -> None:
    convs = {r.name: r for r in rows(analysis("alexnet-caffe"), "CONV")}
    assert [convs[n].args.get("groups", 1) for n in sorted(convs)] == [1, 2, 1, 2, 2]
    assert convs["conv2"].weights == 5 * 5 * 48 * 256  # each half sees 48 of the 96 channels


def test_zfnet_first_layer_does_not_fit_on_224() -> None:
    a = analysis("zfnet")
    (conv1,) = [f for f in a.findings if f.layer == "conv1"]
    assert conv1.code in {"CC201", "CC202"} and conv1.severity is not Severity.ERROR
    assert "110.5" in conv1.message
    # the paper's figure 3: 110, 55, 26, 13, 13, 13, 6
    sizes = [r.output[0] for r in a.rows if r.type in {"CONV", "POOL"}]
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]
    assert a.rows[-1].output == IMAGENET
    strict = analysis("zfnet", rounding="strict")
    assert not strict.ok and any(f.code == "CC201" for f in strict.findings)


@pytest.mark.parametrize(("name", "convs"), [("vgg11", 8), ("vgg13", 10), ("vgg19", 16)])
def test_vgg_configurations(name: str, convs: int) -> None:
    a = analysis(name)
    assert len(rows(a, "CONV")) == convs and len(rows(a, "FC")) == 3
    assert [r.output for r in rows(a, "POOL")] == [
        (112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512)
    ]  # fmt: skip


def test_googlenet_5x5_branch_is_a_3x3_and_bn_everywhere() -> None:
    a = analysis("googlenet")
    cats = rows(a, "CAT")
    assert [c.output for c in cats] == [
        (28, 28, 256), (28, 28, 480),
        (14, 14, 512), (14, 14, 512), (14, 14, 512), (14, 14, 528), (14, 14, 832),
        (7, 7, 832), (7, 7, 1024),
    ]  # fmt: skip
    convs = rows(a, "CONV")
    assert {r.args["F"] for r in convs} == {(7, 7), (1, 1), (3, 3)}  # no 5×5 anywhere
    assert len(convs) == len(rows(a, "BN")) == 57
    assert all(r.biases == 0 for r in convs)
    description = " ".join((convcalc.load("googlenet").description or "").split())
    assert '"5x5" branch is in fact a 3×3' in description


@pytest.mark.parametrize(
    ("name", "blocks", "projections"),
    [("resnet34", 16, 3), ("resnet50", 16, 4), ("resnet101", 33, 4), ("resnet152", 50, 4)],
)
def test_resnet_blocks_and_projections(name: str, blocks: int, projections: int) -> None:
    a = analysis(name)
    assert len(rows(a, "ADD")) == blocks
    assert sum(r.name.endswith(".conv") for r in rows(a, "CONV")) == projections
    assert sum(f.code == "CC304" for f in a.findings) == 0  # all textbook projections
    assert rows(a, "GAP")[0].output == (1, 1, 2048 if name != "resnet34" else 512)


def test_resnet50_stride_on_the_3x3() -> None:
    a = analysis("resnet50")
    strided = [r for r in rows(a, "CONV") if r.args["S"] == (2, 2)]
    assert [(r.name.endswith(".conv"), r.args["F"]) for r in strided] == [
        (False, (7, 7)),
        *[(False, (3, 3)), (True, (1, 1))] * 3,
    ]


def test_mobilenet_v2_residuals_only_where_shapes_match() -> None:
    a = analysis("mobilenet-v2")
    assert len(rows(a, "ADD")) == 10  # (2-1) + (3-1) + (4-1) + (3-1) + (3-1) + (1-1)
    for add in rows(a, "ADD"):
        assert len({a.rows[i].output for i in add.inputs}) == 1
    depthwise = [r for r in rows(a, "CONV") if r.args.get("groups", 1) > 1]
    assert len(depthwise) == 17
    assert all(r.args["groups"] == r.output[2] for r in depthwise)
    assert rows(a, "CONV")[-1].output == (7, 7, 1280)


def test_densenet121_channels() -> None:
    a = analysis("densenet121")
    cats = rows(a, "CAT")
    assert len(cats) == 6 + 12 + 24 + 16
    ends = [cats[i - 1].output for i in (6, 18, 42, 58)]
    assert ends == [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 1024)]
    pools = [r.output for r in rows(a, "POOL")][1:]
    assert pools == [(28, 28, 128), (14, 14, 256), (7, 7, 512)]


def test_unet_levels() -> None:
    a = analysis("unet")
    assert [r.output for r in rows(a, "TCONV")] == [
        (32, 32, 512), (64, 64, 256), (128, 128, 128), (256, 256, 64)
    ]  # fmt: skip
    assert [r.output for r in rows(a, "CAT")] == [
        (32, 32, 1024), (64, 64, 512), (128, 128, 256), (256, 256, 128)
    ]  # fmt: skip
    assert max(r.output[2] for r in rows(a, "CONV")) == 1024
    # the often-quoted figure: 3 input channels, 1 class
    rgb = convcalc.analyze(convcalc.load("unet"), input=(256, 256, 3), variables={"classes": 1})
    assert rgb.totals.params == unet_parameters(3, 1) == 31_031_745


@pytest.mark.parametrize(
    ("name", "arch", "counts"),
    [
        ("pattern-linear", "INPUT -> FC", (0, 0, 1)),
        ("pattern-conv-fc", "INPUT -> CONV -> RELU -> FC", (1, 0, 1)),
        ("pattern-2x-conv-pool", "INPUT -> [CONV -> RELU -> POOL]*2 -> FC -> RELU -> FC",
         (2, 2, 2)),
        ("pattern-3x-conv-conv-pool",
         "INPUT -> [CONV -> RELU -> CONV -> RELU -> POOL]*3 -> [FC -> RELU]*2 -> FC", (6, 3, 3)),
    ],
)  # fmt: skip
def test_patterns_read_like_the_notes(name: str, arch: str, counts: tuple[int, int, int]) -> None:
    found = bundled.path(name)
    assert found is not None, name
    path = Path(found)
    assert path is not None
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["arch"].strip() == arch
    a = analysis(name)
    assert a.input == (32, 32, 3)
    assert tuple(len(rows(a, kind)) for kind in ("CONV", "POOL", "FC")) == counts
