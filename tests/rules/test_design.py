"""Design rules (CC5xx) on hostile sizes."""

from __future__ import annotations

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
