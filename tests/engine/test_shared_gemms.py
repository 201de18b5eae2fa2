"""Work shared between the engine's threads, against the naive loops and torch: Winograd's
(m+2)² GEMMs when each is too small for BLAS to thread (``sizing.BLAS_SINGLE``), for both tile
sizes, odd sizes, padding, a batch and an epilogue; im2col's column copies and epilogues (and
a 1×1 conv's epilogues), cut by images or by rows, with the bias in the GEMM or not, a
prologue, and an epilogue that reads another array's region."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc.engine import kernels as K
from convcalc.engine.kernels import arrays, conv, winograd

from .test_kernels import close, naive_conv, nchw, nhwc, rand, torch_conv2d


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(
    "case",
    [
        (2, 9, 7, 5, 6, ((1, 1), (1, 1))),  # sizes that are no multiple of the tile
        (3, 6, 11, 8, 4, ((0, 1), (2, 1))),  # asymmetric padding
    ],
)
@pytest.mark.parametrize("threads", ["2", "3"])  # 3: a share of taps that is not a half
def test_shared_products_match_loops_and_torch(
    m: int, case: Any, threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(winograd, "SHARED_MIN", 0)  # every chunk's GEMMs shared
    N, H, W, C, Kk, pad = case
    x, w, b = rand(N, H, W, C), rand(3, 3, C, Kk), rand(Kk)
    want = naive_conv(x, w, b, (1, 1), pad, (1, 1), 1)
    res = rand(*want.shape)
    ops = [K.RELU, lambda y, r: np.add(y, res[r], out=y)]
    U = K.winograd_weights(w, m)
    for chunk in (None, 1):  # one chunk, one row of tiles a chunk
        got = K.conv3x3_winograd(x, U, b, pad=pad, epilogue=ops, chunk_bytes=chunk)
        close(got, np.maximum(want, 0) + res)
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = F.pad(nchw(x), (pad[1][0], pad[1][1], pad[0][0], pad[0][1]))
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    got = K.conv3x3_winograd(x, U, b, pad=pad, arena=K.Arena())
    close(got, nhwc(F.conv2d(xt, wt, torch.from_numpy(b))))


def _counted_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the pools the engine hands work to from now on, one entry a hand-off."""
    calls: list[int] = []
    real = arrays.pool

    def counting(n: int) -> Any:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(arrays, "pool", counting)
    return calls


def test_the_products_are_shared_only_when_blas_would_not_thread_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    calls = _counted_hand_offs(monkeypatch)
    V, U, M = rand(36, 64, 32), rand(36, 32, 32), np.empty((36, 64, 32), np.float32)
    winograd._products(V, U, M)  # 65,536 multiply-adds each, 2.4 M in all
    assert calls == [1]  # the other share on the one other thread
    close(M, np.einsum("tpc,tck->tpk", V.astype(np.float64), U.astype(np.float64)))
    calls.clear()
    was = arrays.set_solo(True)  # in a step run alone: all on this thread
    try:
        M[...] = 0
        winograd._products(V, U, M)
    finally:
        arrays.set_solo(was)
    assert calls == []
    close(M, np.einsum("tpc,tck->tpk", V.astype(np.float64), U.astype(np.float64)))
    calls.clear()
    winograd._products(rand(36, 1024, 32), rand(36, 32, 32), np.empty((36, 1024, 32), np.float32))
    assert calls == []  # 1 M each: BLAS threads every GEMM itself
    winograd._products(rand(36, 8, 32), rand(36, 32, 32), np.empty((36, 8, 32), np.float32))
    assert calls == []  # 0.3 M in all: not worth a hand-off


IM2COL = [
    # (N, H, W, C, K, F, stride, pad ((t, b), (l, r)), dilation)
    (1, 13, 11, 3, 8, 3, (2, 2), ((1, 1), (1, 1)), (1, 1)),  # one image: shares of rows
    (3, 9, 10, 4, 5, 5, (1, 1), ((2, 2), (2, 2)), (1, 1)),  # three images: shares of images
    (2, 12, 12, 6, 7, 3, (1, 2), ((0, 1), (2, 0)), (2, 1)),  # dilation, asymmetric pads
    (2, 7, 9, 16, 12, 1, (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1×1: the GEMM on x itself
]


@pytest.mark.parametrize("case", IM2COL)
@pytest.mark.parametrize("chunk", [None, 200])  # 200 bytes: a row or two a chunk
@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("bias", [True, False])
def test_shared_copies_and_epilogues_match_loops(
    case: Any, chunk: int | None, threads: str, bias: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(conv, "SHARED_BYTES", 0)  # every chunk shared
    monkeypatch.setattr(conv, "SHARE_UNDER_BLAS", True)  # ... while OpenBLAS threads GEMMs
    monkeypatch.setattr(conv, "SMALL_COLS_BYTES", 0)  # the chunked path, not ``_small``
    handed: list[int] = []
    real = conv.shared

    def counting(job: Any, parts: Any) -> None:
        handed.append(len(parts))
        real(job, parts)

    monkeypatch.setattr(conv, "shared", counting)
    N, H, W, C, Kk, F, s, pad, d = case
    x, w, b = rand(N, H, W, C), rand(F, F, C, Kk), rand(Kk) if bias else None
    want = naive_conv(x, w, b, s, pad, d, 1)
    res = rand(*want.shape)
    ops = [lambda y, r: np.add(y, res[r], out=y), K.RELU]
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, epilogue=ops, chunk_bytes=chunk,
                   arena=K.Arena())  # fmt: skip
    close(got, np.maximum(want + res, 0))
    assert handed
    want = torch_conv2d(x, w, b, s, pad, d)
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, chunk_bytes=chunk)
    close(got, want)


def test_a_shared_prologue_sees_its_own_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(conv, "SHARED_BYTES", 0)
    monkeypatch.setattr(conv, "SHARE_UNDER_BLAS", True)
    wide = rand(3, 5, 6, 10)
    x = wide[..., :8]  # no (positions, channels) matrix: the 1×1 conv copies its columns
    w, b, shift = rand(1, 1, 8, 4), rand(4), rand(3, 5, 6, 8)
    seen: list[tuple[slice, slice]] = []

    def pre(a: Any, region: tuple[slice, slice]) -> None:  # x + shift, by the region's rows
        seen.append(region)
        np.add(a, shift[region].reshape(a.shape), out=a)

    got = K.conv2d(x, w, b, prologue=[pre], chunk_bytes=300, arena=K.Arena())
    close(got, naive_conv(x + shift, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1))
    assert len(seen) > 3  # several chunks, each cut in shares


def test_a_pointwise_conv_on_few_positions_shares_a_large_gemm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """EfficientNet's 7×7×192 → 1152 (10.8 million multiply-adds) takes the few-positions
    path (``conv._pointwise``): while a pass owns the threads, its GEMM is cut in two by
    columns on the engine's threads, and it matches the loops and torch."""
    from convcalc.engine.kernels import gemm as G

    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setenv("CONVCALC_BLAS", "engine")
    calls = _counted_hand_offs(monkeypatch)
    x, w, b = rand(1, 7, 7, 192), rand(1, 1, 192, 1152), rand(1152)
    assert conv.WHOLE_POSITIONS >= 49
    restore = G.own_threads(0, force=True)
    try:
        got = K.conv2d(x, w, b, epilogue=[K.RELU], arena=K.Arena())
    finally:
        restore()
    assert calls == [1]
    want = naive_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    close(got, np.maximum(want, 0))
    close(K.conv2d(x, w, b), torch_conv2d(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1)))
