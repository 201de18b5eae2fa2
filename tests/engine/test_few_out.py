"""Stride-1 convs on many input and few output channels (DenseNet's 3×3 128 → 32), against
the naive loops and torch: through Winograd (its input transform in two passes of α×α or one
kron GEMM, for odd sizes, padding, a batch, with and without bias and epilogues, on one
thread or sharing its products), and through the taps' GEMM and shifted sums (any filter,
padding and dilation, into its own array or a CAT's channels); and a dense block whose
few-output convs run through each in the pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc import sizing
from convcalc.engine import kernels as K
from convcalc.engine.kernels import winograd
from convcalc.engine.kernels.taps import conv_taps

from .test_kernels import close, naive_conv, nchw, nhwc, rand


def _epilogues(after: str, want: Any) -> tuple[list[K.Epilogue], Any]:
    """The epilogues ``after`` names (``relu``, ``add``: a residual read by region) and the
    oracle with them applied."""
    res = rand(*want.shape)
    ops: list[K.Epilogue] = []
    for op in after.split():
        ops.append(K.RELU if op == "relu" else lambda y, r: np.add(y, res[r], out=y))
        want = np.maximum(want, 0) if op == "relu" else want + res
    return ops, want


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(
    "case",
    [
        (1, 9, 7, 8, 2, ((1, 1), (1, 1))),  # batch 1, sizes that are no multiple of m
        (3, 6, 11, 9, 2, ((0, 1), (2, 1))),  # a batch; asymmetric padding
        (2, 9, 9, 12, 3, ((0, 0), (0, 0))),  # no padding
    ],
)
@pytest.mark.parametrize("after", ["", "relu add", "no bias, add relu"])
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("separable", [True, False])  # the input transform in two passes, or one
def test_winograd_transforms_match_loops(
    m: int, case: Any, after: str, threads: str, separable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(winograd, "SHARED_MIN", 0)  # at 2 threads, every chunk's GEMMs shared
    if not separable:
        monkeypatch.setattr(winograd, "SEPARABLE_BYTES", 0)
    N, H, W, C, Kk, pad = case
    x, w, b = rand(N, H, W, C), rand(3, 3, C, Kk), rand(Kk)
    b = None if "no bias" in after else b
    ops, want = _epilogues(
        after.replace("no bias,", ""), naive_conv(x, w, b, (1, 1), pad, (1, 1), 1)
    )
    U = K.winograd_weights(w, m)
    for chunk in (None, 1):  # one chunk, one row of tiles a chunk
        got = K.conv3x3_winograd(x, U, b, pad=pad, epilogue=ops, chunk_bytes=chunk, arena=K.Arena())
        close(got, want)


@pytest.mark.parametrize("kernel", ["winograd", "taps"])
def test_few_out_against_torch(kernel: str) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = rand(2, 14, 14, 64), rand(3, 3, 64, 16), rand(16)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    want = nhwc(F.conv2d(nchw(x), wt, torch.from_numpy(b), padding=1))
    pad = ((1, 1), (1, 1))
    if kernel == "winograd":
        got = K.conv3x3_winograd(x, K.winograd_weights(w, 4), b, pad=pad)
    else:
        got = conv_taps(x, w, b, pad=pad, dilation=(1, 1), out_hw=(14, 14), epilogue=(), arena=None)
    close(got, want)


FEW_OUT_BLOCK = """
name: few-output dense block
input: {size}x{size}x8
arch: |
  INPUT -> CONV(16, F=3, P=1)
  -> CAT{{ ID | BN -> RELU -> CONV(16, F=1) -> BN -> RELU -> CONV(4, F=3, P=1) }}
  -> CAT{{ ID | BN -> RELU -> CONV(16, F=1) -> BN -> RELU -> CONV(4, F=3, P=1) }}
"""


@pytest.mark.slow
@pytest.mark.parametrize("shared", [False, True])
def test_dense_block_runs_its_few_output_convs_through_winograd(
    shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DenseNet's 3×3 on four times its outputs' channels, writing into the CAT's array, on
    28×28 at batch 4 (196 tiles) through Winograd, its input transform in two passes; on one
    thread, or its products shared between two; against the naive reference and the unfused
    pass."""
    from convcalc import sizing
    from convcalc.engine.kernels import conv, gemm

    from .test_forward import fused_pass

    monkeypatch.setenv("CONVCALC_THREADS", "2")
    # 16 input channels take im2col in a real pass (WINOGRAD_MIN_CHANNELS, a matter of speed);
    # here they take Winograd's path, small enough for the naive reference
    monkeypatch.setattr(sizing, "WINOGRAD_MIN_CHANNELS", 16)
    if shared:  # small as they are, their steps run threaded, their products shared
        monkeypatch.setattr(gemm, "SOLO_MACS", 0)
        monkeypatch.setattr(winograd, "SHARED_MIN", 0)
    calls: list[str] = []
    real = K.conv3x3_winograd

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("winograd")
        return real(*args, **kwargs)

    monkeypatch.setattr(conv, "conv3x3_winograd", spy)
    fused_pass(monkeypatch, FEW_OUT_BLOCK.format(size=28), 4, 3)
    assert len(calls) == 4  # each 3×3 CONV(4), in the fused pass and in the unfused one


@pytest.mark.parametrize(
    "case",
    [  # N, H, W, C, K, (FH, FW), pad, dilation
        (1, 7, 9, 8, 3, (3, 3), ((1, 1), (1, 1)), (1, 1)),  # "same", batch 1
        (3, 6, 5, 4, 2, (3, 3), ((1, 1), (1, 1)), (1, 1)),  # a batch of several units
        (2, 8, 7, 5, 4, (5, 5), ((2, 2), (2, 2)), (1, 1)),
        (2, 6, 6, 3, 2, (3, 3), ((0, 2), (2, 0)), (1, 1)),  # asymmetric
        (1, 5, 4, 3, 2, (3, 3), ((2, 2), (3, 1)), (1, 1)),  # output larger than the input
        (2, 9, 8, 4, 3, (3, 3), ((2, 2), (2, 2)), (2, 2)),  # dilated
        (1, 6, 7, 4, 2, (1, 3), ((0, 0), (1, 1)), (1, 1)),  # one filter row
        (1, 2, 2, 4, 2, (5, 5), ((2, 2), (2, 2)), (1, 1)),  # taps past the input
    ],
)
@pytest.mark.parametrize("after", ["", "relu add", "no bias, add relu"])
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("cat", [False, True])  # its output channels of a wider array
def test_taps_match_loops(
    case: Any, after: str, threads: str, cat: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(sizing, "TAPS_UNIT_VALUES", 1)  # one image a unit: units shared
    N, H, W, C, Kk, size, pad, dil = case
    x, w, b = rand(N, H, W, C), rand(*size, C, Kk), rand(Kk)
    b = None if "no bias" in after else b
    ops, want = _epilogues(after.replace("no bias,", ""), naive_conv(x, w, b, (1, 1), pad, dil, 1))
    Ho, Wo = want.shape[1:3]
    arena = K.Arena()
    if cat:  # as the pass plans a CAT's input: channels 3 … 3 + K of a (N, Ho, Wo, K + 5)
        nbytes = N * Ho * Wo * (Kk + 5) * 4
        arena.place({}, nbytes, {-1: (0, nbytes, 3)})
    got = conv_taps(x, w, b, pad=pad, dilation=dil, out_hw=(Ho, Wo), epilogue=ops, arena=arena)
    assert got.flags.c_contiguous != cat
    close(got, want)


@pytest.mark.parametrize(
    "shape, taps",
    [
        ((1, 28, 28, 128, 32, (3, 3), (2, 2)), True),  # DenseNet's at 28×28
        ((8, 7, 7, 128, 32, (3, 3), (2, 2)), True),
        ((1, 56, 56, 128, 32, (3, 3), (2, 2)), False),  # an image's products beyond a unit
        ((1, 28, 28, 32, 32, (3, 3), (2, 2)), False),  # few inputs
        ((1, 28, 28, 128, 128, (3, 3), (2, 2)), False),  # many outputs
        ((1, 28, 28, 128, 32, (3, 3), (0, 0)), False),  # no padding: a smaller output
        ((1, 28, 28, 128, 32, (1, 1), (0, 0)), False),  # one tap
    ],
)
def test_which_convs_take_the_taps(shape: Any, taps: bool) -> None:
    _, h, w, c, k, size, pads = shape
    assert sizing.taps_conv((h, w), c, k, size, (1, 1), 1, pads) is taps
    assert not sizing.taps_conv((h, w), c, k, size, (2, 2), 1, pads)  # strided
    assert not sizing.taps_conv((h, w), c, k, size, (1, 1), 2, pads)  # grouped


@pytest.mark.slow
def test_dense_block_runs_its_few_output_convs_through_the_taps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same dense block at 14×14, batch 2, on two threads: its 3×3 CONV(4) on 16 channels
    (``TAPS_MIN_IN`` lowered from 64 for the naive reference's sake) go through the taps,
    each writing its sums into the CAT's array."""
    from convcalc.engine.kernels import conv

    from .test_forward import fused_pass

    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(sizing, "TAPS_MIN_IN", 16)
    calls: list[bool] = []
    real = conv.conv_taps

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls.append(out.flags.c_contiguous)
        return out

    monkeypatch.setattr(conv, "conv_taps", spy)
    fused_pass(monkeypatch, FEW_OUT_BLOCK.format(size=14), 2, 5)
    assert len(calls) == 4  # each 3×3 CONV(4), in the fused pass and in the unfused one
    assert not all(calls)  # in the fused pass, into the CAT's array
