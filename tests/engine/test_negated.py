"""A step whose first epilogue is a SiLU runs it on negated values (its weights and bias negated
before the pass, ``weights.prepare``; the SiLU as y/(−1 − e^y)): after every kind of head
(im2col, Winograd, depthwise, grouped, 1×1, FC, LINEAR), behind a folded batch norm or an
ID, and never where something that is not folded comes first."""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.engine import weights

from .test_forward import fused_pass

SPEC = """
name: silu-heads
input: 20x20x8
arch: |
  INPUT -> CONV(16, F=3, P=1, bias=false) -> BN -> SILU
  -> CONV(16, F=3, P=1) -> ID -> SWISH
  -> CONV(16, F=5, P=2, groups=16) -> BN -> SILU
  -> CONV(16, F=3, S=2, P=1, groups=4) -> BN -> SILU
  -> CONV(24, F=1, bias=false) -> BN -> RELU -> SILU
  -> CONV(24, F=1) -> SILU -> BN
  -> LINEAR(12) -> SILU -> GAP -> FC(10) -> SILU -> FC(5)
"""


@pytest.mark.parametrize("batch", [1, pytest.param(6, marks=pytest.mark.slow)])  # 6: 5.5 s
def test_silu_heads_equal_the_naive_reference(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    negated: list[tuple[str, str]] = []
    prepare = weights.prepare

    def spy(rows: Any, params: Any, step: Any, b: int) -> weights.Prepared:
        got = prepare(rows, params, step, b)
        if got.negated >= 0:
            negated.append((rows[step.rows[0]].name, rows[got.negated].name))
        return got

    monkeypatch.setattr(weights, "prepare", spy)
    _, fused = fused_pass(monkeypatch, SPEC, batch, 3)
    assert {"silu1", "swish1", "silu2", "silu3", "silu5", "silu6"} <= set(fused)
    # not after the RELU (not the first epilogue); the unfolded BN after a SiLU changes nothing
    assert sorted(negated) == sorted(
        [("conv1", "silu1"), ("conv2", "swish1"), ("conv3", "silu2"), ("conv4", "silu3"),
         ("conv6", "silu5"), ("linear1", "silu6"), ("fc1", "silu7")]
    )  # fmt: skip

