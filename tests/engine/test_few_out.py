"""Stride-1 convs on many input and few output channels (DenseNet's 128 → 32 3×3), against the
naive loops and torch: Winograd cut into one region a thread (whole images, or rows of tiles
at batch 1), and kn2row (one wide GEMM, then shifted adds); odd sizes, padding, dilation, a
batch, with and without bias and epilogues; and the buffers each takes are those the memory
estimate counts (``sizing.winograd_scratch``, ``sizing.kn2row_scratch``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc import sizing
from convcalc.engine import kernels as K

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


class _Recorder(K.Arena):
    """An arena that keeps the bytes of every named buffer a kernel takes."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[str, int] = {}

    def scratch(self, name: str, shape: Any, dtype: Any) -> Any:
        out = super().scratch(name, shape, dtype)
        self.taken[name] = max(self.taken.get(name, 0), out.nbytes)
        return out


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(
    "case",
    [
        (1, 9, 7, 8, 2, ((1, 1), (1, 1))),  # batch 1: rows of tiles, not a multiple of m
        (3, 6, 11, 9, 2, ((0, 1), (2, 1))),  # a batch shared by images; asymmetric padding
        (2, 9, 9, 12, 3, ((0, 0), (0, 0))),  # no padding
    ],
)
@pytest.mark.parametrize("after", ["", "relu add", "no bias, add relu"])
@pytest.mark.parametrize("threads", ["2", "3"])
def test_winograd_regions_match_loops(
    m: int, case: Any, after: str, threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(sizing, "WINOGRAD_SHARED_MACS", 0)  # every conv cut into regions
    N, H, W, C, Kk, pad = case
    x, w, b = rand(N, H, W, C), rand(3, 3, C, Kk), rand(Kk)
    b = None if "no bias" in after else b
    ops, want = _epilogues(
        after.replace("no bias,", ""), naive_conv(x, w, b, (1, 1), pad, (1, 1), 1)
    )
    U = K.winograd_weights(w, m)
    Ho, Wo = want.shape[1:3]
    assert sizing.winograd_workers(N, -(-Ho // m), -(-Wo // m), C, Kk, m, int(threads)) > 1
    for chunk in (None, 1):  # one chunk a region, one row of tiles a chunk
        arena = _Recorder()
        close(
            K.conv3x3_winograd(x, U, b, pad=pad, epilogue=ops, chunk_bytes=chunk, arena=arena), want
        )
        if chunk is None:  # the estimate's buffers, by name and size
            expected = sizing.winograd_scratch(m, N, (Ho, Wo), C, Kk, 4, int(threads))
            assert arena.taken == expected


def test_winograd_regions_keep_their_threads_small_and_wide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a big conv on at least twice as many inputs as outputs is cut into regions."""
    assert sizing.winograd_workers(8, 14, 14, 128, 32, 4, 2) == 2  # DenseNet's 56×56
    assert sizing.winograd_workers(1, 14, 14, 128, 32, 4, 2) == 2  # batch 1: rows of tiles
    assert sizing.winograd_workers(8, 14, 14, 128, 128, 4, 2) == 1  # as many out as in
    assert sizing.winograd_workers(1, 2, 2, 128, 32, 4, 2) == 1  # a few tiles
    assert "wd1" in sizing.winograd_scratch(4, 8, (56, 56), 128, 32, 4, 2)
    assert "wd" in sizing.winograd_scratch(4, 8, (56, 56), 64, 64, 4, 2)


@pytest.mark.parametrize(
    "case",
    [
        (1, 7, 9, 5, 3, (3, 3), ((1, 1), (1, 1)), (1, 1)),  # odd sizes, batch 1
        (3, 7, 5, 4, 6, (3, 3), ((0, 0), (0, 0)), (1, 1)),  # no padding: Wo < W
        (2, 11, 13, 6, 4, (3, 3), ((2, 2), (2, 2)), (2, 2)),  # dilation
        (1, 9, 8, 4, 2, (2, 3), ((0, 1), (2, 0)), (1, 2)),  # even filter, asymmetric padding
        (2, 4, 4, 3, 2, (3, 3), ((2, 2), (2, 2)), (1, 1)),  # more padding than the filter
    ],
)
@pytest.mark.parametrize("after", ["", "relu add", "no bias, add relu"])
@pytest.mark.parametrize("block", [None, 1])  # 1 byte: one input row a block
@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_kn2row_matches_loops(
    case: Any, after: str, block: int | None, threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(sizing, "KN2ROW_SHARED_MACS", 0)
    N, H, W, C, Kk, f, pad, dil = case
    x, w, b = rand(N, H, W, C), rand(*f, C, Kk), rand(Kk)
    b = None if "no bias" in after else b
    ops, want = _epilogues(after.replace("no bias,", ""), naive_conv(x, w, b, (1, 1), pad, dil, 1))
    wk = K.kn2row_weights(w)
    got = K.conv2d_kn2row(x, wk, b, pad=pad, dilation=dil, epilogue=ops, block_bytes=block)
    close(got, want)


def test_kn2row_reads_a_channel_view_and_float64_and_counts_its_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    wide = rand(1, 10, 12, 9)
    x = wide[..., :6]  # the first channels of a wider array (a CAT's output)
    w, b = rand(3, 3, 6, 2), rand(2)
    pad = ((1, 1), (1, 1))
    want = naive_conv(x, w, b, (1, 1), pad, (1, 1), 1)
    close(K.conv2d_kn2row(x, K.kn2row_weights(w), b, pad=pad), want)
    got = K.conv2d_kn2row(x.astype(np.float64), K.kn2row_weights(w.astype(np.float64)), b, pad=pad)
    assert got.dtype == np.float64
    close(got, want, rtol=1e-9)
    monkeypatch.setattr(sizing, "KN2ROW_SHARED_MACS", 0)
    arena = _Recorder()
    K.conv2d_kn2row(x, K.kn2row_weights(w), b, pad=pad, arena=arena)
    share = sizing.kn2row_workers(1, 10, 12, 6, 18, 2)
    assert share == 2 and arena.taken == sizing.kn2row_scratch(1, (10, 12), 10, 1, 2, 18, 4, share)
    with pytest.raises(ValueError):
        K.conv2d_kn2row(x, K.kn2row_weights(rand(3, 3, 5, 2)))


def test_few_out_against_torch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = rand(2, 14, 14, 64), rand(3, 3, 64, 16), rand(16)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    want = nhwc(F.conv2d(nchw(x), wt, torch.from_numpy(b), padding=1))
    pad = ((1, 1), (1, 1))
    close(K.conv2d_kn2row(x, K.kn2row_weights(w), b, pad=pad), want)
    close(K.conv3x3_winograd(x, K.winograd_weights(w, 4), b, pad=pad), want)


FEW_OUT_BLOCK = """
name: few-output dense block
input: {size}x{size}x8
arch: |
  INPUT -> CONV(16, F=3, P=1)
  -> CAT{{ ID | BN -> RELU -> CONV(16, F=1) -> BN -> RELU -> CONV(4, F=3, P=1) }}
  -> CAT{{ ID | BN -> RELU -> CONV(16, F=1) -> BN -> RELU -> CONV(4, F=3, P=1) }}
"""


@pytest.mark.slow
@pytest.mark.parametrize("kernel, size, batch", [("kn2row", 14, 8), ("winograd", 28, 1)])
@pytest.mark.parametrize("shared", [False, True])
def test_dense_block_runs_its_few_output_convs_through_them(
    kernel: str, size: int, batch: int, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DenseNet's 3×3 on four times its outputs' channels, writing into the CAT's array: at
    batch 8 on 14×14 through kn2row, at batch 1 on 28×28 (49 tiles) through Winograd; on one
    region, or cut between the threads; against the naive reference and the unfused pass."""
    from convcalc.engine.kernels import conv, gemm

    from .test_forward import fused_pass

    monkeypatch.setenv("CONVCALC_THREADS", "2")
    if shared:  # small as they are, their steps run threaded and cut into regions
        monkeypatch.setattr(gemm, "SOLO_MACS", 0)
        monkeypatch.setattr(sizing, "WINOGRAD_SHARED_MACS", 0)
        monkeypatch.setattr(sizing, "KN2ROW_SHARED_MACS", 0)
    calls: list[str] = []
    name = "conv2d_kn2row" if kernel == "kn2row" else "conv3x3_winograd"
    real = getattr(conv, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(conv, name, spy)
    fused_pass(monkeypatch, FEW_OUT_BLOCK.format(size=size), batch, 3)
    assert len(calls) == 4  # each 3×3 CONV(4), in the fused pass and in the unfused one
