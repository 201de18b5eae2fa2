"""Winograd's (m+2)² GEMMs shared between the engine's threads when each is too small for BLAS
to thread (``sizing.BLAS_SINGLE``), against the naive loops and torch: the same result as one
batched call, for both tile sizes, odd sizes, padding, a batch, and an epilogue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc.engine import kernels as K
from convcalc.engine.kernels import winograd

from .test_kernels import close, naive_conv, nchw, nhwc, rand


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


def test_the_products_are_shared_only_when_blas_would_not_thread_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    calls: list[int] = []
    real = winograd.pool

    def counting(n: int) -> Any:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(winograd, "pool", counting)
    V, U, M = rand(36, 64, 32), rand(36, 32, 32), np.empty((36, 64, 32), np.float32)
    winograd._products(V, U, M)  # 65,536 multiply-adds each, 2.4 M in all
    assert calls == [2]
    close(M, np.einsum("tpc,tck->tpk", V.astype(np.float64), U.astype(np.float64)))
    calls.clear()
    winograd._products(rand(36, 1024, 32), rand(36, 32, 32), np.empty((36, 1024, 32), np.float32))
    assert calls == []  # 1 M each: BLAS threads every GEMM itself
    winograd._products(rand(36, 8, 32), rand(36, 32, 32), np.empty((36, 8, 32), np.float32))
    assert calls == []  # 0.3 M in all: not worth a hand-off
