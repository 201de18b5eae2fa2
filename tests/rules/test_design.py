"""Design rules (CC5xx) on hostile sizes."""

from __future__ import annotations

import itertools

from convcalc.rules.design import strides

from ..support import check, spec


def test_cc501_stride_product_stays_small_on_a_long_strided_chain() -> None:
    """20,000 stride-2 layers would make a product of 6,000 digits; it is held above the
    largest input, and an input the volume outruns is not called indivisible."""
    a = check(spec("INPUT -> [CONV(1, F=1, S=2)]*3000", "64x64x1"))
    assert max(strides(a.rows))[0] <= 2**24 + 1
    assert not [f for f in a.findings if f.code == "CC501"]
    b = check(spec("INPUT -> [CONV(1, F=1, S=2)]*3", "36x36x1"))
    assert [f.code for f in b.findings].count("CC501") == 1


def test_padded_taps_in_closed_form_against_the_loop() -> None:
    """Oracle: every window's every tap, tested against the input's extent."""
    from convcalc.layers.geometry import Axis
    from convcalc.rules.design import floor_sum, padded_taps

    for size, f, s, d, before, after in itertools.product(
        range(1, 7), range(1, 6), range(1, 4), range(1, 4), range(0, 7), (0, 1, 5)
    ):
        a = Axis(size, f, s, before, after, d)
        n = max(a.floor, 1)
        loop = sum(not 0 <= o * s - before + t * d < size for o in range(n) for t in range(f))
        assert padded_taps(a) == loop, a
    for n, m, a, b in itertools.product(range(0, 6), range(1, 5), range(-7, 8), range(-9, 10)):
        assert floor_sum(n, m, a, b) == sum((a * i + b) // m for i in range(n))


def test_a_huge_padding_is_reported_with_its_share() -> None:
    """CONV(1, F=3, dilation=5, P=8000000) on 8×8: 16 million windows an axis (a loop over
    them took 16 s; benchmarks/hostile_specs.py times it)."""
    found = check(spec("INPUT -> CONV(1, F=3, dilation=5, P=8000000)", "8x8x1")).findings
    (cc507,) = [f for f in found if f.code == "CC507"]
    assert "read 100% padding" in cc507.message
