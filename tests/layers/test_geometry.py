"""Strides that don't fit (README, Strides that don't fit): grading by rounding mode, and the
fixes in `help`."""

from __future__ import annotations

import pytest

import convcalc
from convcalc.analysis.fit import fits
from convcalc.layers.geometry import Axis, fix_lines, same_padding

from ..support import check, spec


def findings(a: convcalc.Analysis) -> list[tuple[str, str]]:
    """The geometry findings (design advice, CC5xx, is tested in test_rules)."""
    return [(f.code, str(f.severity)) for f in a.findings if not f.code.startswith("CC5")]


def test_floor_grades_lost_pixels_as_warning() -> None:
    a = check(spec("INPUT -> CONV(4, F=3, S=2)", "10x10x1"))
    assert findings(a) == [("CC201", "warning")]
    assert a.output == (4, 4, 4)
    assert "the last column and row of the input are never read" in a.findings[0].message


def test_floor_grades_unused_padding_as_info() -> None:
    # (10 - 3 + 4)/2 + 1 = 6.5: the remainder is 1 <= P, only a padding column is unread
    # (P=1 would read every pixel: the sound ⌈10/2⌉ of 'same', no finding)
    a = check(spec("INPUT -> CONV(4, F=3, S=2, P=2)", "10x10x1"))
    assert findings(a) == [("CC202", "info")]
    assert "only padding is left unread" in a.findings[0].message
    assert a.ok


def test_strict_makes_every_misfit_an_error() -> None:
    a = check(spec("INPUT -> CONV(4, F=3, S=2, P=1)", "10x10x1"), rounding="strict")
    assert findings(a) == [("CC201", "error")]
    assert not a.ok and a.output == (5, 5, 4)  # the shapes still propagate (floored)
    assert "is not an integer" in a.findings[0].message


def test_strict_rounding_from_the_spec() -> None:
    a = check(spec("INPUT -> CONV(4, F=3, S=2)", "10x10x1", "rounding: strict\n"))
    assert findings(a) == [("CC201", "error")]


def test_caffe_ceils_pools_and_floors_convs() -> None:
    text = spec("INPUT -> CONV(4, F=3, S=2) -> POOL(F=3, S=2)", "11x11x1")
    floor = check(text)
    caffe = check(text, rounding="caffe")
    # conv: (11 - 3)/2 + 1 = 5 either way; pool: (5 - 3)/2 + 1 = 2 exactly
    assert floor.output == caffe.output == (2, 2, 4)
    text = spec("INPUT -> POOL(F=3, S=2)", "6x6x1")
    assert check(text).output == (2, 2, 1)
    caffe = check(text, rounding="caffe")
    assert caffe.output == (3, 3, 1)
    assert findings(caffe) == [("CC205", "info")]
    assert "ceil gives 3, floor 2" in caffe.findings[0].message


def test_ceil_pool_drops_a_window_starting_in_the_padding() -> None:
    # PyTorch's ceil_mode on 5 wide, F=2, S=2, P=1: ceil((5 + 2 - 2)/2) + 1 = 4 windows, but
    # the 4th would start at 3·2 = 6, inside the padding after the input (6 >= 5 + 1), so
    # it is dropped: 3 (torch.nn.functional.max_pool2d gives 3 too)
    a = check(spec("INPUT -> POOL(F=2, S=2, P=1, ceil=true)", "5x5x1"))
    assert a.output == (3, 3, 1)
    # the same pool on 6 wide: (6 + 2 - 2)/2 + 1 = 4 exactly; the 4th window starts at
    # padded index 6, the input's last column (6 < 6 + 1): kept
    b = check(spec("INPUT -> POOL(F=2, S=2, P=1, ceil=true)", "6x6x1"))
    assert b.output == (4, 4, 1)


def test_ceil_pool_keeps_a_last_window_that_starts_inside_the_input() -> None:
    # (6 + 2 - 3)/2 = 2.5 rounds up to 3, + 1 = 4; the 4th window starts at padded index
    # 3·2 = 6, which is the input's last column (1 pixel of padding before it): kept
    b = check(spec("INPUT -> POOL(F=3, S=2, P=1, ceil=true)", "6x6x1"))
    assert b.output == (4, 4, 1)


def test_output_below_one_is_an_error_in_every_mode() -> None:
    for mode in ("floor", "strict", "caffe"):
        a = check(spec("INPUT -> CONV(4, F=5)", "3x3x1"), rounding=mode)
        assert findings(a) == [("CC203", "error")] and a.output is None


def test_stride_larger_than_kernel() -> None:
    a = check(spec("INPUT -> POOL(F=1, S=2)", "7x7x1"))
    assert findings(a) == [("CC204", "info")]
    # on 8x8 the last column is skipped too, no more than every other gap: info, not warning
    b = check(spec("INPUT -> POOL(F=1, S=2)", "8x8x1"))
    assert findings(b) == [("CC202", "info"), ("CC204", "info")]


def test_rectangular_misfit_names_the_axis() -> None:
    a = check(spec("INPUT -> CONV(4, F=3, S=2)", "11x10x1"))
    (f,) = [f for f in a.findings if f.code == "CC201"]
    assert "does not fit the height" in f.message
    assert "(10 − 3 + 0)/2 + 1 = 4.5" in f.message and "11 −" not in f.message


def test_symmetric_padding_fix() -> None:
    axis = Axis(size=7, f=3, s=3, before=0, after=0)
    assert fix_lines(axis, max_pad=2)[0] == "use P=1: (7 − 3 + 2)/3 + 1 = 3"


def test_asymmetric_padding_fix_when_no_symmetric_one_exists() -> None:
    axis = Axis(size=224, f=11, s=4, before=0, after=0)
    assert fix_lines(axis, max_pad=10) == [
        "no symmetric P fits; pad 3 in total (1 before, 2 after): (224 − 11 + 3)/4 + 1 = 55",
        "TensorFlow's padding='same' pads 7 (3 before, 4 after): (224 − 11 + 7)/4 + 1 = 56",
        "this layer fits an input of 223 or 227 instead of 224",
    ]


def test_padding_fix_when_only_padding_is_unread() -> None:
    # ResNet's stem: (224 − 7 + 6)/2 + 1 = 112.5; dropping one padding column keeps 112
    axis = Axis(size=224, f=7, s=2, before=3, after=3)
    lines = fix_lines(axis, max_pad=6)
    assert lines[0] == (
        "no symmetric P fits; pad 3 before and 2 after: (224 − 7 + 5)/2 + 1 = 112, the same "
        "output with every padded pixel read"
    )
    assert lines[1] == (
        "TensorFlow's padding='same' pads 5 (2 before, 3 after): (224 − 7 + 5)/2 + 1 = 112"
    )


def test_same_padding_matches_tensorflow() -> None:
    # TensorFlow: out = ceil(W/S); total = max((out - 1)*S + F - W, 0), the odd pixel after
    assert same_padding(224, 11, 4) == (3, 4)  # out 56: 55*4 + 11 - 224 = 7
    assert same_padding(10, 3, 1) == (1, 1)
    assert same_padding(10, 4, 1) == (1, 2)
    assert same_padding(5, 1, 2) == (0, 0)


def brute_force_fits(a: convcalc.Analysis, size: int) -> bool:
    """Re-analyse the whole spec at another input size: no CC201/CC202/CC203 anywhere."""
    other = convcalc.analyze(a.spec, input=(size, size, a.input[2]))
    return other.output is not None and not any(
        f.code in ("CC201", "CC202", "CC203") for f in other.findings
    )


def test_alexnet_224_suggests_227_and_the_search_is_right() -> None:
    a = convcalc.analyze(convcalc.load("alexnet-224"))
    conv1 = next(f for f in a.findings if f.layer == "conv1")
    assert conv1.code == "CC201"
    assert conv1.help is not None
    assert conv1.help.splitlines()[-1] == (
        "the whole network fits an input of 227×227×3 (+3) or 195×195×3 (−29)"
    )
    fitting = [s for s in range(190, 232) if brute_force_fits(a, s)]
    assert min(s for s in fitting if s > 224) == 227
    assert max(s for s in fitting if s < 224) == 195
    for size in range(190, 232):
        assert fits(a.rows, 0, size, "floor") == (size in fitting)


@pytest.mark.parametrize("name", ["vgg16", "alexnet", "lenet5", "cifar10-convnet", "inception-3a"])
def test_bundled_specs_fit_exactly(name: str) -> None:
    a = convcalc.analyze(convcalc.load(name))
    assert not [f for f in a.findings if f.code in ("CC201", "CC202", "CC203")]


def test_misfit_inside_a_repetition_names_it() -> None:
    a = check(spec("INPUT -> [CONV(4, F=3, S=2, P=2)]*3", "30x30x1"))
    # 30 -> 16 (16.5, CC202) -> 9 (9.5, CC202) -> 6 (exact)
    a = a._replace(findings=tuple(f for f in a.findings if not f.code.startswith("CC5")))
    assert [f.layer for f in a.findings] == ["conv1", "conv2"]
    notes = [f.note for f in a.findings]
    assert all(n is not None and n.startswith("in repetition") for n in notes)
    assert {f.layer for f in a.findings} <= {"conv1", "conv2", "conv3"}


def test_the_padding_fix_prefers_the_larger_of_two_equally_near_paddings() -> None:
    # 11 wide, F=5, S=4: (11 − 5 + 2P)/4 is whole for P = 1 and P = 3, both one away from the
    # written P=2; the larger keeps the output at 4 instead of 3, and every pixel read
    axis = Axis(11, 5, 4, 2, 2)
    assert fix_lines(axis, max_pad=4)[0] == "use P=3: (11 − 5 + 6)/4 + 1 = 4"
