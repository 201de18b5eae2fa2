"""What makes a 20,000-row spec check fast must not change what it reports: layers resolved
once per distinct argument values, windows kept per row, centres counted in half pixels."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from convcalc.layers.base import RF, divide
from convcalc.layers.vocabulary import LAYERS
from convcalc.layers.windowed import _centre
from tests.support import check, spec

HALVES = [Fraction(n, 2) for n in range(-7, 8)]
JUMPS: list[int | Fraction] = [1, 2, 3, 8, Fraction(1, 2), Fraction(1, 3), Fraction(4, 3)]


@pytest.mark.parametrize("jump", JUMPS)
def test_centre_is_the_exact_formula(jump: int | Fraction) -> None:
    """Oracle: the formula in Fractions, for whole, half and third-pixel centres."""
    for c, f_eff, before in itertools.product(
        [*HALVES, Fraction(1, 3), Fraction(-5, 6)], range(1, 8), range(0, 4)
    ):
        centre = int(c) if c.denominator == 1 else c
        want = Fraction(c) + (Fraction(f_eff - 1, 2) - before) * jump
        got = _centre(centre, f_eff, before, jump)
        assert got == want
        if isinstance(jump, int):  # whole pixels stay ints: reports print them as such
            assert type(got) is (int if want.denominator == 1 else Fraction)
        assert got == c + (divide(f_eff - 1, 2) - before) * jump


def test_even_windows_keep_whole_and_half_centres() -> None:
    """A chain of 2×2 stride-1 pools with P=1 moves the centre by -1/2 a layer."""
    rows = check(spec("INPUT -> [POOL(F=2, S=1, P=1)]*5", "8x8x1")).rows
    assert [r.receptive_field for r in rows[1:]] == [(i + 1, i + 1) for i in range(1, 6)]
    rf = RF()
    pool = LAYERS["POOL"]
    for row in rows[1:]:
        rf = pool.receptive(row.args, row.input_shapes[0], rf)
    assert rf.centre == (Fraction(-5, 2), Fraction(-5, 2))


def test_repeated_layers_share_their_resolved_arguments() -> None:
    analysis = check(spec("INPUT -> [CONV(k, F=1) -> RELU]*4 over k=(4, 8, 4, 8)", "8x8x3"))
    convs = [r for r in analysis.rows if r.type == "CONV"]
    assert [r.output[2] for r in convs] == [4, 8, 4, 8]
    assert convs[0].args is convs[2].args and convs[1].args is convs[3].args
    assert convs[0].args is not convs[1].args and convs[0].args["K"] == 4


def test_a_flag_and_a_count_of_the_same_value_are_resolved_apart() -> None:
    """true == 1 as a dict key, but K=true is refused where K=1 is not: resolved for b(1),
    the layer must not hand b(true) the same arguments."""
    blocks = "blocks:\n  b(x): CONV(x, F=1)\n"
    analysis = check(spec("INPUT -> b(1) -> b(true)", "8x8x3", blocks))
    errors = [f for f in analysis.findings if f.severity.name == "ERROR"]
    assert [e.message for e in errors] == ["CONV argument K=true: expected an integer"]
    assert check(spec("INPUT -> b(1) -> b(1)", "8x8x3", blocks)).ok


def test_an_error_in_a_repeated_layer_is_reported_once() -> None:
    analysis = check(spec("INPUT -> [CONV(k, F=1, bogus=2)]*50", "8x8x3", "vars: {k: 3}\n"))
    errors = [f for f in analysis.findings if f.severity.name == "ERROR"]
    assert len(errors) == 1 and "bogus" in errors[0].message


def test_layers_written_alike_share_arguments_and_keep_their_own_errors() -> None:
    analysis = check(spec("INPUT -> CONV(4, F=1) -> CONV(4, F=1) -> CONV(4, F=(1, 1))", "8x8x3"))
    a, b, c = analysis.rows[1:]
    assert a.args is b.args and a.args == c.args
    broken = check(spec("INPUT -> CONV(4, bogus=1) -> RELU -> CONV(4, bogus=1)", "8x8x3"))
    errors = [f for f in broken.findings if f.severity.name == "ERROR"]
    assert [(e.location.line, e.location.column) for e in errors] == [(4, 20), (4, 48)]


def test_closed_forms_against_their_loops() -> None:
    """The widest adaptive bin and SKIP's inferred stride, in O(1) (an axis may be 2²⁴ wide),
    against the lists and searches they replace."""
    from convcalc.analysis.analyzer import skip_stride
    from convcalc.layers.resizing import adaptive_bins, largest_bin

    for size in range(1, 60):
        for out in range(1, 3 * size):  # more bins than pixels too: they overlap
            assert largest_bin(size, out) == max(b - a for a, b in adaptive_bins(size, out))
            loop = next((s for s in range(1, size + 1) if (size - 1) // s + 1 == out), None)
            assert skip_stride(size, out) == loop, (size, out)
