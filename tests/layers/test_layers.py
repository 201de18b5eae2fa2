"""The layer vocabulary (README, Layer vocabulary) against naive oracles: window positions
enumerated one by one, transposed convolutions scattered input by input, receptive fields
traced back through every layer."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convcalc
from convcalc.frontend import bundled
from convcalc.layers.merges import MERGES
from convcalc.layers.vocabulary import LAYERS
from convcalc.report.text import describe

from ..support import check, spec


def naive_windows(size: int, f: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    """Count window starts over the zero-padded axis, one by one."""
    f_eff = d * (f - 1) + 1
    padded = size + 2 * p
    count, start = 0, 0
    while True:
        fits = start + f_eff <= padded
        # ceil mode (PyTorch): a window may hang over the end by less than the stride, but
        # must start inside the input or the padding before it
        overhang = ceil and start + f_eff - padded < s and start < size + p
        if not (fits or overhang):
            return count
        count += 1
        start += s


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(1, 40),
    f=st.integers(1, 7),
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_output_size_matches_enumeration(size: int, f: int, s: int, p: int, d: int) -> None:
    a = check(spec(f"INPUT -> CONV(2, F={f}, S={s}, P={p}, dilation={d})", f"{size}x{size}x1"))
    expected = naive_windows(size, f, s, p, d)
    if expected < 1:
        assert a.output is None and [f.code for f in a.findings] == ["CC203"]
    else:
        assert a.output == (expected, expected, 2)


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 40), f=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2))
def test_ceil_pool_size_matches_enumeration(size: int, f: int, s: int, p: int) -> None:
    assume(2 * p <= f)  # padding above half the window is refused (CC111)
    a = check(spec(f"INPUT -> POOL(F={f}, S={s}, P={p}, ceil=true)", f"{size}x{size}x1"))
    expected = naive_windows(size, f, s, p, 1, ceil=True)
    if expected < 1:
        assert a.output is None and [f.code for f in a.findings] == ["CC203"]
    else:
        assert a.output == (expected, expected, 1)


def test_a_ceil_pool_may_hang_over_an_input_smaller_than_its_window() -> None:
    # PyTorch's ceil_mode: one window that starts inside the 2 pixels, as max_pool2d gives
    a = check(spec("INPUT -> POOL(F=3, S=3, ceil=true)", "2x2x4"))
    assert a.ok and a.output == (1, 1, 4), [f.render() for f in a.findings]
    (note,) = [f for f in a.findings if f.code == "CC205"]
    assert "ceil gives 1, floor 0" in note.message
    b = check(spec("INPUT -> POOL(F=3, S=1, ceil=true)", "1x1x4"))  # hangs over by 2 ≥ S
    assert b.output is None and [f.code for f in b.findings] == ["CC203"]
    assert "⌈(1 − 3 + 0)/1⌉ + 1 = −1 < 1" in b.findings[0].message
    c = check(spec("INPUT -> POOL(F=3, S=3)", "2x2x4"), rounding="caffe")  # Caffe's ceil too
    assert c.output == (1, 1, 4)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_ceil_pool_sizes_on_small_inputs_equal_torch(kind: str) -> None:
    """Every small input, window, stride and padding: convcalc's size is torch's, and where
    torch refuses (an output below 1) convcalc says CC203."""
    torch = pytest.importorskip("torch")
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    for w, h, f, s in itertools.product(range(1, 7), range(1, 4), range(1, 6), range(1, 5)):
        for p in range(f // 2 + 1):
            try:
                y = pool(torch.zeros(1, 1, h, w), f, s, p, ceil_mode=True)
                expected = (int(y.shape[3]), int(y.shape[2]), 1)
            except RuntimeError:
                expected = None
            arch = f"INPUT -> POOL(F={f}, S={s}, P={p}, type={kind}, ceil=true)"
            a = check(spec(arch, f"{w}x{h}x1"))
            assert a.output == expected, (arch, w, h, [x.render() for x in a.findings])
            if expected is None:
                assert [x.code for x in a.findings if x.severity.name == "ERROR"] == ["CC203"]


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 12),
    f=st.integers(1, 5),
    s=st.integers(1, 4),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    out_pad=st.integers(0, 3),
)
def test_tconv_output_size_by_scattering(
    size: int, f: int, s: int, p: int, d: int, out_pad: int
) -> None:
    assume(out_pad < max(s, d))  # a larger out_pad is refused (CC111)
    touched = {i * s + k * d for i in range(size) for k in range(f)}
    expected = max(touched) + 1 - 2 * p + out_pad
    a = check(
        spec(
            f"INPUT -> TCONV(3, F={f}, S={s}, P={p}, dilation={d}, out_pad={out_pad})",
            f"{size}x{size}x2",
        )
    )
    if expected < 1:
        assert a.output is None
    else:
        assert a.output == (expected, expected, 3)
        tconv = a.rows[1]
        assert tconv.weights == f * f * 2 * 3 and tconv.biases == 3
        assert tconv.macs == size * size * 2 * f * f * 3


def test_conv_counts_with_groups() -> None:
    a = check(spec("INPUT -> CONV(12, F=3, P=1, groups=4)", "10x10x8"))
    conv = a.rows[1]
    # torch.nn.Conv2d(8, 12, 3, groups=4).weight has shape (12, 2, 3, 3)
    assert conv.weights == 12 * 2 * 3 * 3 and conv.biases == 12
    # naive count: one multiply per tap per output value
    taps = sum(3 * 3 * (8 // 4) for _ in range(10 * 10 * 12))
    assert conv.macs == taps


def test_depthwise_conv() -> None:
    a = check(spec("INPUT -> CONV(32, F=3, P=1, groups=32, bias=false)", "56x56x32"))
    assert a.rows[1].params == 32 * 9 and a.rows[1].macs == 56 * 56 * 32 * 9


def test_rectangular_conv_counts() -> None:
    a = check(spec("INPUT -> CONV(4, F=(1, 7), P=(0, 3))", "17x17x8"))
    assert a.output == (17, 17, 4)
    assert a.rows[1].weights == 1 * 7 * 8 * 4 and a.rows[1].macs == 17 * 17 * 4 * 7 * 8


def test_same_and_valid_padding() -> None:
    a = check(spec("INPUT -> CONV(4, F=3, S=2, P=same) -> CONV(4, F=3, P=valid)", "15x15x3"))
    assert [r.output for r in a.rows[1:]] == [(8, 8, 4), (6, 6, 4)]
    # same at stride 1 with an odd filter is symmetric; an even filter is not (CC206)
    b = check(spec("INPUT -> CONV(4, F=4, P=same)", "16x16x3"))
    assert b.output == (16, 16, 4)
    assert [f.code for f in b.findings] == ["CC206"]


def test_fc_flattens() -> None:
    a = check(spec("INPUT -> FC(10)", "6x5x4"))
    fc = a.rows[1]
    assert fc.output == (1, 1, 10)
    assert fc.weights == 6 * 5 * 4 * 10 and fc.biases == 10 and fc.macs == 6 * 5 * 4 * 10
    b = check(spec("INPUT -> FC(10, bias=false)", "6x5x4"))
    assert b.totals.biases == 0


def test_shape_preserving_layers() -> None:
    body = "RELU -> LRELU(0.1) -> ELU -> GELU -> SIGMOID -> TANH -> BN -> LRN -> DROPOUT(0.3) -> ID"
    a = check(spec(f"INPUT -> {body} -> SOFTMAX"))
    assert all(r.output == (32, 32, 3) for r in a.rows)
    bn = next(r for r in a.rows if r.type == "BN")
    assert bn.params == 2 * 3 and bn.buffers == 2 * 3
    in_place = {r.type for r in a.rows if r.activations == 0}
    # GELU: PyTorch has none in place; it keeps its input and makes a new output
    assert in_place == {"RELU", "LRELU", "ELU", "SIGMOID", "TANH", "DROPOUT", "ID", "SOFTMAX"}
    not_in_place = check(spec("INPUT -> RELU(inplace=false)"))
    assert not_in_place.rows[1].activations == 32 * 32 * 3


def test_modern_activations_and_stochastic_depth() -> None:
    body = "RELU6 -> HSWISH -> HSIGMOID -> SILU -> SWISH -> DROPPATH(0.1)"
    a = check(spec(f"INPUT -> {body}", "6x5x4"))
    assert [r.output for r in a.rows] == [(6, 5, 4)] * 7
    assert all(r.params == r.buffers == r.macs == 0 for r in a.rows)
    assert all(r.receptive_field == (1, 1) for r in a.rows)
    # these four save their input for the backward pass: in place, autograd keeps a copy
    # of it, so each adds its volume to the training activations; at inference they are in
    # place (the liveness sweep's ``in_place``)
    assert [r.activations for r in a.rows[1:6]] == [6 * 5 * 4] * 5
    assert all(r.in_place for r in a.rows[1:6])
    assert not any(LAYERS[t].keeps_output for t in ("RELU6", "HSWISH", "HSIGMOID", "SILU"))
    assert LAYERS["RELU"].keeps_output and LAYERS["SIGMOID"].keeps_output
    drop = a.rows[6]
    assert drop.activations == 0 and drop.in_place and LAYERS["DROPPATH"].passes_input
    not_in_place = check(spec("INPUT -> HSWISH(inplace=false)", "6x5x4")).rows[1]
    assert not_in_place.activations == 6 * 5 * 4 and not not_in_place.in_place
    # SWISH is SILU under its other name: the same class, its own row type
    assert type(LAYERS["SWISH"]) is type(LAYERS["SILU"]) and a.rows[5].type == "SWISH"


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("DROPPATH", "DROPPATH needs p"),
        ("DROPPATH(1.5)", "p=1.5: expected a number between 0 and 1"),
        ("DROPPATH(p=-0.1)", "p=-0.1: expected a number between 0 and 1"),
        ("LN(eps=-1)", "eps=-1: expected a number at least 0"),
        ("LINEAR", "LINEAR needs K"),
        ("LINEAR(0)", "K=0: must be at least 1"),
        ("SCALE(2)", "SCALE takes no arguments"),
        ("RELU6(slope=2)", "RELU6 has no argument `slope`"),
    ],
)
def test_modern_layer_arguments_are_checked(arch: str, message: str) -> None:
    a = check(spec(f"INPUT -> {arch}", "6x5x4"))
    assert [f.code for f in a.findings] == ["CC111"]
    assert message in a.findings[0].message


def test_droppath_takes_zero_and_one() -> None:
    a = check(spec("INPUT -> RES{ CONV(3, F=1) -> DROPPATH(0) } -> RES{ ID -> DROPPATH(1) }"))
    assert a.ok and [r.args["p"] for r in a.rows if r.type == "DROPPATH"] == [0, 1]


def test_layer_norm_and_scale() -> None:
    a = check(spec("INPUT -> LN -> SCALE -> LN(eps=1e-5)", "7x6x5"))
    ln, scale, ln2 = a.rows[1:]
    assert ln.output == scale.output == (7, 6, 5)
    assert (ln.weights, ln.biases, ln.buffers, ln.macs) == (5, 5, 0, 0)  # γ, β; no statistics
    assert (scale.weights, scale.biases, scale.buffers, scale.macs) == (5, 0, 0, 0)
    assert ln.args["eps"] == 1e-6 and ln2.args["eps"] == 1e-5  # ConvNeXt's LayerNorm2d
    assert ln.activations == scale.activations == 7 * 6 * 5  # new tensors, as BN's
    assert ln.receptive_field == scale.receptive_field == (1, 1)
    assert not LAYERS["LN"].keeps_output and not LAYERS["SCALE"].keeps_output


def test_linear_counts_equal_a_1x1_conv() -> None:
    for bias in ("true", "false"):
        a = check(spec(f"INPUT -> CONV(96, F=3) -> LINEAR(384, bias={bias})", "58x58x96"))
        b = check(spec(f"INPUT -> CONV(96, F=3) -> CONV(384, F=1, bias={bias})", "58x58x96"))
        lin, conv = a.rows[2], b.rows[2]
        assert lin.type == "LINEAR" and lin.output == conv.output == (56, 56, 384)
        assert lin.receptive_field == conv.receptive_field == (3, 3)
        same = ("weights", "biases", "buffers", "macs", "activations")
        assert [getattr(lin, k) for k in same] == [getattr(conv, k) for k in same]
    # ConvNeXt-T's first MLP: Linear(96, 384) at 56×56 positions
    assert lin.weights == 96 * 384 and lin.macs == 56 * 56 * 96 * 384
    after_gap = check(spec("INPUT -> GAP -> LINEAR(10)", "7x7x768")).rows[2]
    assert after_gap.output == (1, 1, 10) and after_gap.params == 768 * 10 + 10


def test_gap_flatten_up() -> None:
    a = check(spec("INPUT -> UP(3) -> GAP -> FLATTEN", "5x4x6"))
    assert [r.output for r in a.rows[1:]] == [(15, 12, 6), (1, 1, 6), (1, 1, 6)]
    b = check(spec("INPUT -> FLATTEN -> FC(2)", "3x3x2"))
    assert b.rows[1].output == (1, 1, 18) and b.rows[1].activations == 0
    assert b.rows[2].weights == 18 * 2


def test_local_counts() -> None:
    a = check(spec("INPUT -> LOCAL(5, F=3, S=2)", "9x9x2"))
    local = a.rows[1]
    assert local.output == (4, 4, 5)
    assert local.weights == 4 * 4 * 5 * (3 * 3 * 2) and local.biases == 4 * 4 * 5
    assert local.macs == 4 * 4 * 5 * 3 * 3 * 2


def test_pool_types() -> None:
    for kind in ("max", "avg", "l2"):
        a = check(spec(f"INPUT -> POOL(F=3, S=2, P=1, type={kind})", "8x8x4"))
        assert a.output == (4, 4, 4) and a.totals.params == 0


def naive_bins(size: int, out: int) -> list[range]:
    """PyTorch's adaptive bins, one by one: bin i starts at floor(i·W/out) and ends at
    ceil((i + 1)·W/out), exclusive, computed with fractions."""
    return [
        range(math.floor(Fraction(i * size, out)), math.ceil(Fraction((i + 1) * size, out)))
        for i in range(out)
    ]


@settings(max_examples=200, deadline=None)
@given(w=st.integers(1, 30), h=st.integers(1, 30), ow=st.integers(1, 12), oh=st.integers(1, 12))
def test_adaptive_pool_shapes_and_receptive_field(w: int, h: int, ow: int, oh: int) -> None:
    a = check(spec(f"INPUT -> APOOL(({ow}, {oh}))", f"{w}x{h}x5"))
    apool = a.rows[1]
    assert a.ok and apool.output == (ow, oh, 5)
    assert (apool.params, apool.buffers, apool.macs) == (0, 0, 0)
    assert apool.activations == ow * oh * 5
    largest = [max(len(b) for b in naive_bins(size, n)) for size, n in ((w, ow), (h, oh))]
    assert apool.receptive_field == (largest[0], largest[1])
    larger = [f for f in a.findings if f.code == "CC208"]
    assert bool(larger) == (ow > w or oh > h)


def test_adaptive_pool_forms_and_switches() -> None:
    arch = "INPUT -> CONV(8, F=3, S=2, P=1) -> APOOL(4, type=max) -> APOOL((2, 1))"
    a = check(spec(arch, "16x16x3"))
    assert [r.output for r in a.rows[2:]] == [(4, 4, 8), (2, 1, 8)]
    assert [describe(r) for r in a.rows[2:]] == ["APOOL max 4×4", "APOOL 2×1"]
    assert a.memory is not None and a.memory.pool_switches == 4 * 4 * 8 * 8  # int64 per output
    # bins that divide the input evenly are POOL(F=S=2): the same receptive field as that pool
    b = check(spec("INPUT -> CONV(8, F=3, S=2, P=1) -> POOL(2) -> CONV(2, F=3)", "16x16x3"))
    c = check(spec("INPUT -> CONV(8, F=3, S=2, P=1) -> APOOL(4) -> CONV(2, F=3)", "16x16x3"))
    assert [r.receptive_field for r in b.rows] == [r.receptive_field for r in c.rows]
    assert not [f for f in c.findings if f.code == "CC303"]
    # larger than the input: allowed, with a note that says how to pool without repeating
    d = check(spec("INPUT -> APOOL((6, 2))", "4x4x2"))
    (note,) = d.findings
    assert d.ok and d.output == (6, 2, 2) and note.code == "CC208"
    assert "width 4 → 6" in note.message and note.help is not None and "APOOL((4, 2))" in note.help


SHUFFLE_UNIT = (
    "CAT{ SLICE(0, 58) | SLICE(58, 116) -> CONV(58, F=1) -> BN -> RELU "
    "-> CONV(58, F=3, P=1, groups=58) -> BN -> CONV(58, F=1) -> BN -> RELU } -> SHUFFLE(2)"
)


def test_a_shufflenet_v2_unit_splits_and_shuffles_its_channels() -> None:
    a = check(spec(f"INPUT -> {SHUFFLE_UNIT}", "28x28x116"))
    assert a.ok and a.output == (28, 28, 116), [f.render() for f in a.findings]
    first, second, shuffle = a.rows[1], a.rows[2], a.rows[-1]
    assert [describe(r) for r in (first, second, shuffle)] == ["SLICE 0:58", "SLICE 58:116",
                                                               "SHUFFLE g2"]  # fmt: skip
    assert first.output == second.output == (28, 28, 58) and second.inputs == (0,)
    # a slice is a view (PyTorch's x.chunk): no activations; a shuffle is a new tensor
    assert first.activations == second.activations == 0 and first.in_place
    assert shuffle.activations == 28 * 28 * 116 and not shuffle.in_place
    for row in (first, second, shuffle):
        assert (row.params, row.buffers, row.macs) == (0, 0, 0)
        assert row.receptive_field == a.rows[row.inputs[0]].receptive_field


@pytest.mark.parametrize(
    ("arch", "depth"),
    [("SLICE(2)", 4), ("SLICE(0, 1)", 1), ("SLICE(start=1, stop=3)", 2),
     ("SLICE(stop=3, start=1)", 2), ("SLICE(5, stop=6)", 1), ("SHUFFLE", 6), ("SHUFFLE(3)", 6),
     ("SHUFFLE(groups=6)", 6)],
)  # fmt: skip
def test_slice_and_shuffle_forms(arch: str, depth: int) -> None:
    a = check(spec(f"INPUT -> {arch}", "5x4x6"))
    assert a.ok and a.output == (5, 4, depth)


@pytest.mark.parametrize(
    ("arch", "problem"),
    [
        ("SLICE(2, 9)", "SLICE(2, 9) on 6 channels: stop=9 is beyond the input's 6 channels"),
        ("SLICE(4, 4)", "SLICE(4, 4) on 6 channels: start=4 is not below stop=4: no channels"),
        ("SLICE(6)", "SLICE(6) on 6 channels: start=6 is not below the input's 6 channels"),
    ],
)
def test_a_slice_outside_the_channels_is_cc209(arch: str, problem: str) -> None:
    a = check(spec(f"INPUT -> {arch}", "5x4x6"))
    (f,) = a.findings
    assert a.output is None and f.code == "CC209" and f.message == f"slice1: {problem}"
    assert f.help == (
        "the input has channels 0 to 5: SLICE(start, stop) takes start to stop − 1, "
        "with 0 ≤ start < stop ≤ 6; its halves are SLICE(0, 3) and SLICE(3, 6)"
    )


def test_shuffle_groups_must_divide_the_channels() -> None:
    a = check(spec("INPUT -> SHUFFLE(4)", "5x4x6"))
    (f,) = a.findings
    assert a.output is None and f.code == "CC207"
    assert f.message == "shuffle1: groups=4 does not divide the input depth 6"
    assert f.help == "groups must divide the input depth; groups that divide 6: 1, 2, 3, 6"


def test_only_the_first_two_arguments_of_slice_are_positional() -> None:
    for arch, message in (
        ("SLICE(0, 2, 3)", "only the first 2 arguments of SLICE may be positional"),
        ("SLICE(start=0, 2)", "a positional argument follows a named one"),
        ("POOL(2, 2)", "only the first argument of POOL may be positional"),
    ):
        a = check(spec(f"INPUT -> {arch}", "5x4x6"))
        assert [(f.code, f.message) for f in a.findings] == [("CC111", message)], arch


SE = "MUL{ ID | GAP -> CONV(4, F=1) -> RELU -> CONV(16, F=1) -> SIGMOID }"


def test_mul_broadcasts_a_1x1_branch_and_counts_nothing() -> None:
    a = check(spec(f"INPUT -> CONV(16, P=1) -> {SE}", "9x7x3"))
    mul = a.rows[-1]
    assert mul.type == "MUL" and mul.output == (9, 7, 16) and a.ok
    assert mul.input_shapes == ((9, 7, 16), (1, 1, 16))
    assert (mul.params, mul.buffers, mul.macs) == (0, 0, 0)  # elementwise, as ADD: no MACs
    assert mul.activations == 9 * 7 * 16  # a new tensor: autograd keeps both operands
    # every unit sees the whole input through the squeeze, on the ID branch's grid
    assert mul.receptive_field == a.rows[a.rows.index(mul) - 1].receptive_field
    assert mul.receptive_field[0] >= 9 and mul.receptive_field[1] >= 7
    after = check(spec(f"INPUT -> CONV(16, P=1) -> {SE} -> CONV(2, F=3, S=2)", "9x7x3"))
    rf_mul, rf_conv = after.rows[-2].receptive_field, after.rows[-1].receptive_field
    assert rf_conv == (rf_mul[0] + 2, rf_mul[1] + 2)  # the jump is still the ID branch's 1
    # either order, equal shapes, three branches, and all of them 1×1
    for arch in ("MUL{ GAP | ID }", "MUL{ ID | CONV(3, F=1) }", "MUL{ ID | GAP | ID }",
                 "GAP -> MUL{ ID | CONV(3, F=1) }"):  # fmt: skip
        b = check(spec(f"INPUT -> {arch}", "5x4x3"))
        assert b.ok and b.output == ((1, 1, 3) if arch.startswith("GAP") else (5, 4, 3)), arch


@pytest.mark.parametrize(
    ("arch", "fix"),
    [
        ("MUL{ ID | GAP -> CONV(2, F=1) }", "branch 2 needs depth 3, not 2 (end it with CONV(3"),
        ("MUL{ ID | POOL }", "branch 2 is 3×2, neither 6×4 nor 1×1 (GAP makes it 1×1)"),
        ("MUL{ GAP | POOL | ID }", "branch 3 is 6×4, neither 3×2 nor 1×1"),
    ],
)  # fmt: skip
def test_mul_refuses_shapes_that_do_not_broadcast(arch: str, fix: str) -> None:
    a = check(spec(f"INPUT -> {arch}", "6x4x3"))
    assert a.output is None and [f.code for f in a.findings] == ["CC306"]
    (f,) = a.findings
    assert f.message.startswith("mul1: MUL needs branches of one shape, or 1×1×D branches")
    assert f.help is not None and fix in f.help and "squeeze-and-excitation" in f.help


def trace_back(layers: list[tuple[int, int, int]]) -> int:
    """The input interval that one output unit sees, traced back through (F, S, dilation)."""
    lo, hi = 0, 0
    for f, s, d in reversed(layers):
        lo, hi = lo * s, hi * s + (f - 1) * d
    return hi - lo + 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 2)), min_size=1,
                max_size=5))  # fmt: skip
def test_receptive_field_by_tracing_back(layers: list[tuple[int, int, int]]) -> None:
    arch = " -> ".join(f"CONV(1, F={f}, S={s}, dilation={d}, P=same)" for f, s, d in layers)
    a = check(spec(f"INPUT -> {arch}", "64x64x1"))
    assert a.rows[-1].receptive_field == (trace_back(layers),) * 2


def test_resnet18_totals_split_into_weights_biases_and_buffers_by_hand() -> None:
    # torchvision's resnet18: 11,689,512 parameters. Its 20 BNs hold 64 + 4·64 + (4·128 + 128)
    # + (4·256 + 256) + (4·512 + 512) = 4,800 channels: γ (weights) and β (biases) each, and
    # two running statistics (buffers); the only other biases are the FC's 1,000.
    t = convcalc.analyze(convcalc.load("resnet18")).totals
    assert t.params == 11_689_512
    assert t.biases == 4_800 + 1_000
    assert t.weights == 11_689_512 - 5_800
    assert t.buffers == 2 * 4_800


#: Layer types the bundled specs lack, and ceil-rounded or asymmetric windows.
MORE = (
    ("INPUT -> CONV(4, F=2, S=2, P=same) -> TCONV(4, F=4, S=2, P=1, dilation=2, out_pad=1) "
     "-> LOCAL(2, F=3, S=2, P=1) -> UP(n=3) -> POOL(F=3, S=2, ceil=true) -> FLATTEN -> FC(3)",
     "29x30x3"),
    ("INPUT -> CAT{ POOL(F=3, S=2, P=1, type=avg) | CONV(4, F=1, S=2) } -> GAP", "29x29x3"),
    (f"INPUT -> CONV(16, F=3, S=2) -> {SE} -> MUL{{ GAP | ID | ID }}", "29x28x3"),
    ("INPUT -> CONV(4, F=3, S=2) -> APOOL((5, 3)) -> APOOL(7, type=max) -> FC(2)", "31x29x3"),
    ("INPUT -> CONV(8, F=3, S=2) -> LN -> LINEAR(16) -> HSWISH -> RELU6 -> HSIGMOID -> SILU "
     "-> SWISH -> SCALE -> RES{ LINEAR(16) -> DROPPATH(0.1) }", "29x30x3"),
    (f"INPUT -> CONV(116, F=3, S=2) -> {SHUFFLE_UNIT} -> SLICE(4) -> SHUFFLE(7)", "29x31x3"),
)  # fmt: skip


@pytest.mark.parametrize("rounding", ["floor", "strict", "caffe"])
def test_size_along_agrees_with_the_walk(rounding: str) -> None:
    """The per-axis size the input search replays (size_along) is the walk's, wherever it
    answers: for every row of every bundled spec, and of specs with the other layer types."""
    names = bundled.names()
    analyses = [convcalc.analyze(convcalc.load(name), rounding=rounding) for name in names]
    analyses += [check(spec(arch, shape), rounding=rounding) for arch, shape in MORE]
    for a in analyses:
        assert a.output is not None
        for row in a.rows[1:]:
            merge = MERGES.get(row.type)
            for i in (0, 1):
                sizes = [shape[i] for shape in row.input_shapes]
                if merge is not None:
                    size = merge.size_along(sizes)
                else:
                    size = LAYERS[row.type].size_along(row.args, i, sizes[0], rounding)
                assert size in (None, row.output[i]), (a.spec.name, row.name, i)


CONVNEXT_T = """
name: ConvNeXt-T
input: 224x224x3
blocks:
  block(d): "RES{ CONV(d, F=7, P=3, groups=d) -> LN -> LINEAR(4 * d) -> GELU -> LINEAR(d)
             -> SCALE -> DROPPATH(0.1) }"
  down(d): "LN -> CONV(d, F=2, S=2)"
arch: |
  INPUT -> CONV(96, F=4, S=4) -> LN -> [block(96)]*3 -> down(192) -> [block(192)]*3
  -> down(384) -> [block(384)]*9 -> down(768) -> [block(768)]*3 -> GAP -> LN -> FLATTEN
  -> LINEAR(1000)
"""


def test_convnext_tiny_has_torchvisions_published_counts() -> None:
    # torchvision's convnext_tiny: 28,589,128 parameters, 4.46 GFLOPS (multiply-adds)
    a = check(CONVNEXT_T)
    assert a.ok and a.output == (1, 1, 1000)
    assert a.totals.params == 28_589_128 and a.totals.buffers == 0
    assert round(a.totals.macs / 1e9, 2) == 4.46

    # the published count by hand: per block a 7×7 depthwise conv, LN, the two Linears of
    # the MLP and the layer scale; the stem, three downsamplings and the head
    def block(d: int) -> int:
        return (49 * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d) + d

    stem = 4 * 4 * 3 * 96 + 96 + 2 * 96
    down = sum(2 * d + 2 * 2 * d * 2 * d + 2 * d for d in (96, 192, 384))
    blocks = 3 * block(96) + 3 * block(192) + 9 * block(384) + 3 * block(768)
    assert stem + down + blocks + 2 * 768 + 768 * 1000 + 1000 == 28_589_128
