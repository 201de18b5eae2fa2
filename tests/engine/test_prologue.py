"""Pre-activation: a batch norm and activations before a 1×1 CONV whose input other rows read
(DenseNet's BN → RELU → CONV on a CAT) run as the CONV's prologue, on each chunk of its input;
the result equals the naive reference layer by layer, and the plan gives those rows no array."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc.analysis.plan import plan
from convcalc.engine import kernels as K
from convcalc.engine.forward import forward
from convcalc.engine.layout import lifetimes

from ..support import check
from .test_forward import random_bn, reference
from .test_kernels import close, naive_conv, rand

PREACT = """
name: pre-activation
input: 9x7x4
arch: |
  INPUT -> CONV(6, F=3, P=1)
  -> CAT{ ID | BN -> RELU -> CONV(5, F=1) -> BN -> RELU -> CONV(3, F=3, P=1) }
  -> CAT{ ID | BN -> HSWISH -> RELU6 -> CONV(4, F=1, bias=false) }
  -> CAT{ SLICE(2) -> BN -> RELU -> CONV(3, F=1) | SLICE(0, 5) -> SILU -> CONV(2, F=1) }
  -> BN -> RELU -> CONV(4, F=1) -> POOL(F=2, S=2, type=avg) -> GAP -> FC(3)
"""


def test_the_plan_makes_prologues_of_pre_activations_only() -> None:
    analysis = check(PREACT)
    assert analysis.ok, [f.render() for f in analysis.findings]
    rows = analysis.rows
    p = plan(rows)
    heads = {rows[s.rows[0]].name: [rows[i].type for i in s.before] for s in p.steps if s.before}
    # the CONV(5)'s BN reads the first CAT's input, which the CAT reads too; the 3×3 conv's
    # BN → RELU fold into the CONV(5) before it, as an epilogue; a SLICE takes no epilogue
    assert list(heads.values()) == [["BN", "RELU"], ["BN", "HSWISH", "RELU6"], ["BN", "RELU"],
                                    ["SILU"], ["BN", "RELU"]]  # fmt: skip
    before = {i for s in p.steps for i in s.before}
    assert not any(set(s.rows) & before for s in p.steps)
    # the prologue rows make no array: the layout plans none for them
    assert not before & {value for value, *_ in lifetimes(rows, p, 2, 4)}
    assert not any(s.before for s in plan(rows, fuse=False).steps)


@pytest.mark.parametrize("batch", [1, 3])
def test_a_pre_activation_network_equals_the_naive_reference(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    random_bn(monkeypatch)
    analysis = check(PREACT)
    result = forward(analysis, batch=batch, seed=5)
    assert result.ok
    fused = {r.name: r.fused_into for r in result.layers if r.fused_into}
    assert sum(1 for r in analysis.rows if r.type in ("HSWISH", "RELU6") and r.name in fused) == 2
    close(result.output, reference(analysis, batch, 5))
    unfused = forward(analysis, batch=batch, seed=5, fuse=False)
    close(result.output, unfused.output, 1e-5)


@pytest.mark.parametrize("contiguous", [True, False])
def test_conv2d_prologue_runs_on_every_chunk(contiguous: bool) -> None:
    x = rand(3, 5, 6, 8) if contiguous else rand(3, 5, 6, 10)[..., 1:9]
    w, b = rand(1, 1, 8, 4), rand(4)
    scale, shift = rand(8), rand(8)

    def affine(y: np.ndarray, region: object) -> None:
        np.multiply(y, scale, out=y)
        np.add(y, shift, out=y)

    ops = [affine, lambda y, r: np.maximum(y, 0, out=y)]
    for chunk in (100, K.CHUNK_BYTES):
        got = K.conv2d(x, w, b, prologue=ops, chunk_bytes=chunk, arena=K.Arena())
        pre = np.maximum(x * scale + shift, 0)
        close(got, naive_conv(pre, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1))
        assert np.array_equal(x, x.copy())  # the input itself is untouched


def test_a_prologue_before_a_windowed_conv_is_refused() -> None:
    with pytest.raises(ValueError, match="prologue"):
        K.conv2d(rand(1, 4, 4, 2), rand(3, 3, 2, 2), prologue=[lambda y, r: None])
