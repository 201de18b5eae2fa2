"""A CAT in place: the inputs computed for it are written straight into its output (as
memory-efficient DenseNets do), the CAT copies nothing, and the result equals the naive
reference; an input that does not qualify is copied as before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc.analysis.plan import cat_views, plan
from convcalc.engine import kernels as K
from convcalc.engine import runner
from convcalc.engine.forward import forward
from convcalc.engine.kernels.chunks import rows_of_positions
from convcalc.engine.layout import estimate_memory, layout

from ..support import check
from .test_forward import random_bn, reference
from .test_kernels import close, naive_conv, rand

DENSE = """
name: dense block
input: 11x9x3
arch: |
  INPUT -> CONV(6, F=3, P=1) -> POOL(F=2, S=1)
  -> CAT{ ID | BN -> RELU -> CONV(8, F=1) -> BN -> RELU -> CONV(3, F=3, P=1) }
  -> CAT{ ID | BN -> RELU -> CONV(8, F=1) -> BN -> RELU -> CONV(3, F=3, P=1) }
  -> CAT{ ID | BN -> RELU -> CONV(8, F=1) -> BN -> RELU -> CONV(3, F=(1, 3), P=(0, 1)) }
  -> CAT{ CONV(2, F=1) -> RELU | POOL(F=3, S=1, P=1) | CAT{ CONV(2, F=3, P=1) | CONV(1, F=1) } }
  -> CAT{ ID | CONV(4, F=3, P=1, groups=2) | ID }
  -> BN -> RELU -> CONV(5, F=1) -> CAT{ ID | CONV(2, F=1) }
"""


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every CAT input's answer to 'already in place?'."""
    seen: list[bool] = []
    original = runner._same_view

    def spy(a: Any, b: Any) -> bool:
        seen.append(original(a, b))
        return seen[-1]

    monkeypatch.setattr(runner, "_same_view", spy)
    return seen


def test_the_plan_puts_the_inputs_made_for_a_cat_in_it() -> None:
    analysis = check(DENSE)
    assert analysis.ok, [f.render() for f in analysis.findings]
    rows = analysis.rows
    p = plan(rows)
    views = cat_views(rows, p)
    placed = sorted((rows[v].name, rows[c].name, at) for v, (c, at) in views.items())
    # the dense block nests: each CAT is the first channels of the next, each 3×3 CONV at
    # its place after them; the pool before the first CAT is no ungrouped CONV and is
    # copied; cat3, read by four branches after, is no input made for cat5; cat4 nests in
    # cat5 after its two siblings' 17 channels; cat6 reads cat5 twice and a grouped CONV,
    # and cat7 is the network's output: none of those is placed
    assert placed == [
        ("cat1", "cat2", 0), ("cat2", "cat3", 0), ("cat4", "cat5", 17), ("conv10", "cat4", 2),
        ("conv3", "cat1", 6), ("conv5", "cat2", 9), ("conv7", "cat3", 12), ("conv8", "cat5", 0),
        ("conv9", "cat4", 0),
    ]  # fmt: skip
    lay = layout(analysis, 2, 4, p)
    step_of = {s.rows[0]: n for n, s in enumerate(p.steps)}
    assert sorted(lay.views) == sorted(step_of[v] for v in views)


@pytest.mark.parametrize("batch", [1, 3])
def test_a_cat_in_place_equals_the_naive_reference(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    random_bn(monkeypatch)
    seen = _counting(monkeypatch)
    analysis = check(DENSE)
    result = forward(analysis, batch=batch, seed=7)
    assert result.ok
    close(result.output, reference(analysis, batch, 7))
    views = cat_views(analysis.rows, plan(analysis.rows))
    assert seen.count(True) == len(views)  # each placed input was there, the rest copied
    assert seen.count(False) == len(seen) - len(views) > 0
    unfused = forward(analysis, batch=batch, seed=7, fuse=False)
    close(result.output, unfused.output, 1e-5)


def test_densenet_s_cats_copy_nothing_and_the_estimate_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every CAT of a dense block but the first (whose pool output is copied) is in place;
    the measured peak stays within the estimate's ±15%."""
    seen = _counting(monkeypatch)
    text = DENSE.replace("input: 11x9x3", "input: 40x40x3")
    analysis = check(text)
    result = forward(analysis, batch=2)
    assert result.ok and seen.count(True) > seen.count(False)
    estimate = estimate_memory(analysis, 2, 4)
    assert 0.85 * estimate.total < result.measured_peak_bytes < 1.15 * estimate.total


def test_a_gemm_writes_into_channels_of_a_wider_array_and_reads_them() -> None:
    """conv2d's output and a 1×1 conv's input may be channels of a CAT's array: strided
    rows of positions, written and read without a copy."""
    x, w, b = rand(2, 5, 7, 6), rand(1, 1, 6, 4), rand(4)
    wide = np.zeros((2, 5, 7, 9), np.float32)
    wide[..., :6] = x
    view = wide[..., :6]
    assert rows_of_positions(view) and not rows_of_positions(wide[:, ::2])
    naive = naive_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    close(K.conv2d(view, w, b), naive)
    w3 = rand(3, 3, 6, 3)
    target = np.zeros((2, 5, 7, 10), np.float32)

    class Into(K.Arena):
        def take(self, shape: Any, dtype: Any) -> Any:
            return target[..., 4:7]

    for winograd in (None, K.winograd_weights(w3)):
        target[...] = 0
        K.conv2d(view, w3[:0] if winograd is not None else w3, b[:3], pad=((1, 1), (1, 1)),
                 winograd=winograd, arena=Into())  # fmt: skip
        close(target[..., 4:7], naive_conv(x, w3, b[:3], (1, 1), ((1, 1), (1, 1)), (1, 1), 1))
        assert not target[..., :4].any() and not target[..., 7:].any()
