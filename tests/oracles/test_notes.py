"""Every worked example of the CS231n notes, with the notes' own numbers as the oracle."""

from __future__ import annotations

import pytest

import convcalc

from ..support import check, spec


def row(analysis: convcalc.Analysis, name: str) -> convcalc.Row:
    return next(r for r in analysis.rows if r.name == name)


def codes(analysis: convcalc.Analysis) -> list[str]:
    """The geometry findings: the notes' examples are about sizes, not design advice (CC5xx)."""
    return [f.code for f in analysis.findings if not f.code.startswith("CC5")]


def test_760_parameter_layer() -> None:
    # the slides: 32x32x3 input, ten 5x5 filters, stride 1, pad 2 -> 32x32x10, 760 parameters
    a = check(spec("INPUT -> CONV(10, F=5, S=1, P=2)"))
    assert a.output == (32, 32, 10)
    assert a.totals.params == 760 == 10 * (5 * 5 * 3 + 1)
    assert codes(a) == []


@pytest.mark.parametrize(("stride", "size"), [(1, 5), (2, 3)])
def test_7x7_input_3x3_filter(stride: int, size: int) -> None:
    # "for a 7x7 input and a 3x3 filter with stride 1 and pad 0 we would get a 5x5 output.
    # With stride 2 we would get a 3x3 output."
    a = check(spec(f"INPUT -> CONV(1, F=3, S={stride})", "7x7x1"))
    assert a.output == (size, size, 1)
    assert codes(a) == []


def test_7x7_input_stride_3_does_not_fit() -> None:
    a = check(spec("INPUT -> CONV(1, F=3, S=3)", "7x7x1"))
    (f,) = [f for f in a.findings if not f.code.startswith("CC5")]
    assert f.code == "CC201"
    assert "(7 − 3 + 0)/3 + 1 = 2.33" in f.message
    assert f.help is not None and "use P=1: (7 − 3 + 2)/3 + 1 = 3" in f.help


def test_5_wide_input_pad_1_strides() -> None:
    # the 1-D illustration: W=5, F=3, P=1 -> 5 at S=1, 3 at S=2, and S=3 "could not be used"
    for stride, size in ((1, 5), (2, 3)):
        a = check(spec(f"INPUT -> CONV(1, F=3, S={stride}, P=1)", "5x5x1"))
        assert a.output == (size, size, 1) and codes(a) == []
    a = check(spec("INPUT -> CONV(1, F=3, S=3, P=1)", "5x5x1"), rounding="strict")
    (f,) = [f for f in a.findings if f.code == "CC201"]
    assert str(f.severity) == "error" and codes(a) == ["CC201"]
    assert "(5 − 3 + 2)/3 + 1 = 2.33" in f.message


def test_w10_f3_s2_p0_is_flagged() -> None:
    # "(10 - 3 + 0)/2 + 1 = 4.5, i.e. not an integer"
    a = check(spec("INPUT -> CONV(1, F=3, S=2)", "10x10x1"))
    (f,) = [f for f in a.findings if not f.code.startswith("CC5")]
    assert f.code == "CC201" and f.severity is convcalc.Severity.WARNING
    assert "(10 − 3 + 0)/2 + 1 = 4.5" in f.message
    strict = check(spec("INPUT -> CONV(1, F=3, S=2)", "10x10x1"), rounding="strict")
    assert strict.findings[0].severity is convcalc.Severity.ERROR and not strict.ok


def test_numpy_example_11x11x4() -> None:
    # X.shape (11, 11, 4), F=5, S=2, P=0 -> (11 - 5)/2 + 1 = 4
    a = check(spec("INPUT -> CONV(2, F=5, S=2)", "11x11x4"))
    assert a.output == (4, 4, 2)
    assert codes(a) == []
    assert row(a, "conv1").weights == 2 * 5 * 5 * 4


def test_convolution_demo() -> None:
    # W1 = 5, H1 = 5, D1 = 3, K = 2, F = 3, S = 2, P = 1 -> (5 - 3 + 2)/2 + 1 = 3
    a = check(spec("INPUT -> CONV(2, F=3, S=2, P=1)", "5x5x3"))
    assert a.output == (3, 3, 2)
    assert row(a, "conv1").params == 2 * (3 * 3 * 3) + 2


def test_alexnet_conv1_on_227() -> None:
    a = check(spec("INPUT -> CONV(96, F=11, S=4, P=0)", "227x227x3"))
    conv = row(a, "conv1")
    assert conv.output == (55, 55, 96)
    assert conv.weights == 34_848 and conv.biases == 96 and conv.params == 34_944
    assert codes(a) == []


def test_alexnet_conv1_locally_connected() -> None:
    # 55*55*96 = 290,400 neurons, each with 11*11*3 = 363 weights and 1 bias
    a = check(spec("INPUT -> LOCAL(96, F=11, S=4)", "227x227x3"))
    local = row(a, "local1")
    assert local.output == (55, 55, 96)
    assert local.params == 290_400 * 364 == 105_705_600


def test_alexnet_224_is_not_an_integer_and_227_fixes_it() -> None:
    a = check(spec("INPUT -> CONV(96, F=11, S=4)", "224x224x3"))
    (f,) = [f for f in a.findings if not f.code.startswith("CC5")]
    assert f.code == "CC201"
    assert "(224 − 11 + 0)/4 + 1 = 54.25" in f.message
    assert f.help is not None
    assert "this layer fits an input of 223 or 227 instead of 224" in f.help
    assert "227×227×3 (+3)" in f.help


def test_three_3x3_convs_against_one_7x7() -> None:
    c = 64
    stack = check(spec(f"INPUT -> [CONV({c}, F=3, P=1, bias=false) -> RELU]*3", f"56x56x{c}"))
    single = check(spec(f"INPUT -> CONV({c}, F=7, P=3, bias=false)", f"56x56x{c}"))
    assert stack.totals.params == 27 * c * c
    assert single.totals.params == 49 * c * c
    convs = [r for r in stack.rows if r.type == "CONV"]
    assert [r.receptive_field for r in convs] == [(3, 3), (5, 5), (7, 7)]
    assert row(single, "conv1").receptive_field == (7, 7)
    assert stack.output == single.output == (56, 56, c)


def test_zero_padding_keeps_size() -> None:
    # P = (F - 1)/2 at S = 1 keeps the spatial size: F=3 -> P=1, F=5 -> P=2
    for f, p in ((3, 1), (5, 2), (7, 3)):
        a = check(spec(f"INPUT -> CONV(8, F={f}, P={p})", "32x32x3"))
        assert a.output == (32, 32, 8)


def test_pooling_224_to_112() -> None:
    # "the input volume of size [224x224x64] is pooled with filter size 2, stride 2 into
    # output volume of size [112x112x64]"
    a = check(spec("INPUT -> POOL(F=2, S=2)", "224x224x64"))
    assert a.output == (112, 112, 64)
    assert a.totals.params == 0


def test_cifar10_example_architecture() -> None:
    # [INPUT - CONV - RELU - POOL - FC]: 32x32x3 -> 32x32x12 -> 16x16x12 -> 1x1x10
    a = convcalc.analyze(convcalc.load("cifar10-convnet"))
    shapes = [(r.type, r.output) for r in a.rows]
    assert shapes == [
        ("INPUT", (32, 32, 3)),
        ("CONV", (32, 32, 12)),
        ("RELU", (32, 32, 12)),
        ("POOL", (16, 16, 12)),
        ("FC", (1, 1, 10)),
    ]


def test_local_connectivity_examples() -> None:
    # Example 1: 32x32x3 input, 5x5 receptive field -> 5*5*3 = 75 weights (+1 bias) a neuron
    a = check(spec("INPUT -> CONV(1, F=5)", "32x32x3"))
    assert row(a, "conv1").weights == 75 and row(a, "conv1").biases == 1
    # Example 2: 16x16x20 input, 3x3 receptive field -> 3*3*20 = 180 connections
    b = check(spec("INPUT -> CONV(1, F=3)", "16x16x20"))
    assert row(b, "conv1").weights == 180


def test_regular_net_neuron_weights() -> None:
    # a fully connected neuron on 32x32x3 has 3072 weights; on 200x200x3, 120,000
    assert check(spec("INPUT -> FC(1)", "32x32x3")).totals.weights == 3072
    assert check(spec("INPUT -> FC(1)", "200x200x3")).totals.weights == 120_000


def test_im2col_shapes_of_alexnet_conv1() -> None:
    # X_col is [363 x 3025]: 11*11*3 rows, 55*55 columns
    a = check(spec("INPUT -> CONV(96, F=11, S=4)", "227x227x3"))
    conv = row(a, "conv1")
    assert conv.macs == 363 * 3025 * 96


def test_fc_as_conv_on_7x7x512() -> None:
    # an FC with K=4096 on 7x7x512 equals a CONV with F=7, P=0, S=1, K=4096
    fc = check(spec("INPUT -> FC(4096)", "7x7x512"))
    conv = check(spec("INPUT -> CONV(4096, F=7)", "7x7x512"))
    assert fc.output == conv.output == (1, 1, 4096)
    assert fc.totals.params == conv.totals.params
    assert fc.totals.macs == conv.totals.macs


def test_fc_to_conv_on_384() -> None:
    # 384/32 = 12 -> the converted FC layers give a 6x6 array of class scores
    vgg_as_conv = (
        "INPUT -> [[CONV(64, F=3, P=1) -> RELU]*2 -> POOL(F=2, S=2)]*5 "
        "-> CONV(4096, F=7) -> RELU -> CONV(4096, F=1) -> RELU -> CONV(1000, F=1)"
    )
    a = check(spec(vgg_as_conv, "384x384x3"))
    pools = [r.output[:2] for r in a.rows if r.type == "POOL"]
    assert pools[-1] == (12, 12)
    assert a.output == (6, 6, 1000)
