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


def test_layers_written_alike_get_each_its_own_advice() -> None:
    """The advice is kept per arguments and shapes: every repeat of a layer gets the same
    findings as the layer checked on its own would, under its own name and line. Oracle:
    each CONV and POOL's advice computed alone."""
    from convcalc.rules.design import _conv_advice, _pool_advice

    text = (
        "INPUT -> [CONV(8, F=7, P=1) -> POOL(F=4, S=1, P=1)]*2\n"
        "  -> CONV(8, F=7, P=1)@x -> CONV(8, F=5, P=2) -> CONV(8, F=5, P=2)"
        " -> [POOL(F=5, S=1, P=2)]*2"
    )
    a = check(spec(text, "64x64x3"))
    rows = a.rows
    first = next(i for i, r in enumerate(rows) if r.type == "CONV")
    expected = [
        f
        for i, r in enumerate(rows)
        for f in (
            _conv_advice(r, i != first) if r.type == "CONV"
            else _pool_advice(r) if r.type == "POOL" else []
        )
    ]
    codes = ("CC502", "CC503", "CC504", "CC505", "CC506")
    got = [f for f in a.findings if f.code in codes]
    key = lambda f: (f.location.line, f.location.column, f.code, f.message)  # noqa: E731
    assert sorted(got, key=key) == sorted(expected, key=key)
    assert len({f.layer for f in got if f.code == "CC504"}) == 3  # three rows shrink the map
    # the repeats that keep the shape (conv3 and conv4, pool3 and pool4): one is computed,
    # the other moved, each to its own place
    place = {r.name: r.location for r in rows}
    for code, pair_ in (("CC503", ("conv3", "conv4")), ("CC505", ("pool3", "pool4"))):
        mine = [f for f in got if f.code == code and f.layer in pair_]
        assert [f.layer for f in mine] == list(pair_)
        assert [f.message.split(":")[0] for f in mine] == list(pair_)
        assert [f.location for f in mine] == [place[name] for name in pair_]
    assert place["conv3"].column != place["conv4"].column
