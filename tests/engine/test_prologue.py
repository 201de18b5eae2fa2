"""Pre-activation: a batch norm and activations before a 1×1 CONV whose input other rows read
(DenseNet's BN → RELU → CONV on a CAT) run as the CONV's prologue, on each chunk of its input;
the result equals the naive reference layer by layer, and the plan gives those rows no array."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc.analysis.memory import step_buffers
from convcalc.analysis.plan import bias_column, plan
from convcalc.engine import kernels as K
from convcalc.engine import runner
from convcalc.engine.layout import lifetimes

from ..support import check
from .test_forward import fused_pass
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
    read: list[bool] = []
    real = runner._Affine.into

    def spy(self: Any, a: Any, y: Any, region: tuple[slice, slice]) -> None:
        read.append(a is not y)
        real(self, a, y, region)

    monkeypatch.setattr(runner._Affine, "into", spy)
    analysis, fused = fused_pass(monkeypatch, PREACT, batch, 5)
    assert sum(1 for r in analysis.rows if r.type in ("HSWISH", "RELU6") and r.name in fused) == 2
    # a batch norm first in a prologue reads the input's chunk itself: no copy before it (the
    # input is intact, or the CATs that read it too would differ from the reference)
    assert any(read)


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


# -- a layer norm before a LINEAR (ConvNeXt): normalised chunk by chunk, γ and β folded -----

CONVNEXT_BLOCK = """
name: ln-linear
input: 7x5x12
arch: |
  INPUT -> CONV(12, F=2, S=1)
  -> RES{ CONV(12, F=3, P=1, groups=12) -> LN -> LINEAR(48) -> GELU -> LINEAR(12)
          -> SCALE -> DROPPATH(0.1) }
  -> RES{ CONV(12, F=3, P=1, groups=12) -> LN(eps=0.01) -> LINEAR(20, bias=false) -> GELU
          -> LINEAR(12) -> SCALE }
  -> LN -> CONV(8, F=1) -> GAP -> LN -> FC(3)
"""


def test_the_plan_makes_a_layer_norm_read_by_a_linear_its_prologue() -> None:
    analysis = check(CONVNEXT_BLOCK)
    assert analysis.ok, [f.render() for f in analysis.findings]
    rows = analysis.rows
    p = plan(rows)
    heads = [(rows[s.rows[0]].type, [rows[i].type for i in s.before]) for s in p.steps]
    assert [h for h in heads if h[1]] == [("LINEAR", ["LN"]), ("LINEAR", ["LN"])]
    # the LN before a CONV and the one before the FC run on their own
    assert sum(1 for h in heads if h[0] == "LN") == 2
    before = {i for s in p.steps for i in s.before}
    assert not before & {value for value, *_ in lifetimes(rows, p, 2, 4)}


@pytest.mark.parametrize("batch", [1, 3])
def test_a_convnext_block_equals_the_naive_reference(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # random γ and β for every LN and SCALE, random biases
    analysis, fused = fused_pass(monkeypatch, CONVNEXT_BLOCK, batch, 3)
    lns = [r for r in analysis.rows if r.type == "LN"]
    assert [fused.get(r.name) is not None for r in lns] == [True, True, False, False]
    # both LINEARs after an LN add their bias (β folded in, even without bias=true) as a
    # last column of their weights, and the memory plan reserves the column of ones
    rows = analysis.rows
    steps = [s for s in plan(rows).steps if s.before]
    assert [bias_column(rows, s) for s in steps] == [True, True]
    assert not any(bias_column(rows, s) for s in plan(rows).steps if not s.before)
    for s in steps:
        w, h, c = rows[s.rows[0]].input_shapes[0]
        pre = step_buffers(rows, s, batch, 4)["pre"]
        assert pre == K.prologue_bytes(batch, h, w, c, rows[s.rows[0]].output[2], 4) // c * (c + 1)


def naive_ln_linear(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float,
                    w: np.ndarray, bias: np.ndarray) -> np.ndarray:  # fmt: skip
    """A layer norm, then a Linear at every position, one position at a time in float64."""
    out = np.zeros((*x.shape[:3], w.shape[0]))
    for idx in np.ndindex(*x.shape[:3]):
        v = x[idx].astype(np.float64)
        n = (v - v.mean()) / np.sqrt(((v - v.mean()) ** 2).mean() + eps) * g + b
        out[idx] = [float(n @ w[k].astype(np.float64)) + float(bias[k]) for k in range(len(w))]
    return out


@pytest.mark.parametrize("contiguous", [True, False])
def test_linear_with_a_layer_norm_prologue_folded_runs_on_every_chunk(contiguous: bool) -> None:
    from convcalc.layers.vocabulary import LAYERS

    x = rand(3, 5, 6, 8) * 2 + 1 if contiguous else (rand(3, 5, 6, 10) * 2 + 1)[..., 1:9]
    w, bias, g, b = rand(7, 8), rand(7), rand(8), rand(8)
    expected = naive_ln_linear(x, g, b, 1e-3, w, bias)
    ln, lin = LAYERS["LN"], LAYERS["LINEAR"]
    args = {"eps": 1e-3}
    op = ln.prologue(args)
    assert op is not None
    scale, shift = ln.input_affine(args, {"gamma": g, "beta": b})
    w2, b2 = lin.fold_input(w.copy(), bias, scale, shift)
    w3 = np.concatenate([w2, b2[:, None]], axis=1)  # the bias as a last column (a pass's)
    for chunk in (100, K.CHUNK_BYTES):  # many chunks, then one
        got = K.linear(x, w2, b2, prologue=[op], chunk_bytes=chunk, arena=K.Arena())
        close(got, expected)
        column = K.linear(x, w3, None, prologue=[op], chunk_bytes=chunk, arena=K.Arena(),
                          bias_column=True)  # fmt: skip
        close(column, expected)
    with pytest.raises(ValueError, match="bias column"):
        K.linear(x, w3, b2, prologue=[op], bias_column=True)
    with pytest.raises(ValueError, match="bias column"):
        K.linear(x, w3, None, bias_column=True)
    assert np.array_equal(x, x.copy())  # the input itself is untouched
    _, nobias = lin.fold_input(w.copy(), None, scale, shift)  # a LINEAR(bias=false) gets one
    close(nobias, w.astype(np.float64) @ b.astype(np.float64))


def test_normalise_is_a_layer_norm_without_its_affine() -> None:
    x = rand(2, 3, 4, 40) * 3 + 2
    ones, zeros = np.ones(40, np.float32), np.zeros(40, np.float32)
    close(K.normalise(x, 1e-6), K.layernorm(x, ones, zeros, 1e-6), 1e-6)
    view = x[:, :, ::2]  # the plain path
    close(K.normalise(view, 1e-6), K.layernorm(view.copy(), ones, zeros, 1e-6), 1e-6)
    y = x.copy()
    assert K.normalise(y, 1e-6, out=y) is y
