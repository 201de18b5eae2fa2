"""Depthwise convolution (one input channel a group) as a direct NHWC kernel.

im2col has nothing to gain here: every output sums FH·FW products of one channel, there is no
depth for a GEMM to reduce. So the kernel works in bands of output rows that stay in cache. A
band of the padded input is copied once, its columns split by stride phase (column u goes to
phase u mod S), so that every tap reads a contiguous run of Wo·K values per row; the weights are
tiled along the width the same way, over Wb output columns of a stride-1 conv (Wb·K about
``DEPTHWISE_INNER`` values: ``sizing.depthwise_block``) and over Wo of a strided one, and read
again for every block of Wb columns. Then one ``np.einsum`` per phase sums all the taps of that
phase (out += x·w in one pass, 1.7× faster here than a multiply and an add per tap, and several
times faster than products broadcast over K channels, whose inner loop is only K long). A depth
multiplier m (K = m·C) repeats each input channel m times in the band. Bands run on
``threads()`` threads (NumPy releases the GIL inside its loops), since unlike a GEMM the sums
get no BLAS threads of their own; a conv of fewer than ``DEPTHWISE_THREADED_MACS`` runs as one
band on the calling thread (``sizing``). While OpenBLAS keeps its own threads (a pass that does
not own them, ``gemm.blas_holds``), every band runs on the calling thread: OpenBLAS's workers
spin for a while after each GEMM, and a band handed to another thread waits for a core they
hold. At batch 1, 2 threads, quiet, efficientnet-b0 and mobilenet-v3-large's depthwise kinds
summed: 25.4–26.3 ms with the bands on two threads, 19.6–21.2 on one (alternating runs of
benchmarks/forward_vs_torch.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...sizing import (
    DEPTHWISE_BYTES,
    depthwise_block,
    depthwise_budget,
    depthwise_scratch,
    depthwise_strided,
    depthwise_threads,
    largest_chunk,
    threads,
)
from .arrays import Arena, Array, alloc, scratch, spread, strided_view
from .chunks import Epilogue, Pads, Pair, chunks, window_count
from .gemm import blas_holds

__all__ = ["DEPTHWISE_BYTES", "depthwise2d", "depthwise_scratch", "spread", "threads"]


def _phases(fw: int, sx: int, dx: int) -> list[tuple[int, int, int, int]]:
    """(phase, first offset, offset step, taps) of each stride phase the filter's columns
    fall in: tap fx reads phase (fx·dx) mod S at column offset (fx·dx) div S."""
    out = []
    for p in range(sx):
        taps = [fx for fx in range(fw) if fx * dx % sx == p]
        if taps:
            step = (taps[1] - taps[0]) * dx // sx if len(taps) > 1 else 0
            out.append((p, taps[0] * dx // sx, step, len(taps)))
    return out


def depthwise2d(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    stride: Pair = (1, 1),
    pad: Pads = ((0, 0), (0, 0)),
    dilation: Pair = (1, 1),
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    chunk_bytes: int | None = None,
    strided: bool | None = None,
) -> Array:
    """Depthwise convolution: V[n,y,x,k] = sum(X[n, y*S+fy*d, x*S+fx*d, k // m] * W[fy,fx,k]) + b_k.

    x: (N, H, W, C); w: (FH, FW, 1, K) with K = m·C (m outputs per input channel, channel k
    reading input channel k // m, as groups = C does); b: (K,) or None. ``strided``: copy the
    band once and sum along K (True), or split it by stride phase and sum along Wo·K (False);
    None: as ``sizing.depthwise_strided`` chooses.
    """
    N, H, W, C = x.shape
    FH, FW, one, K = w.shape
    if one != 1 or K % C:
        raise ValueError(f"a depthwise conv takes (FH, FW, 1, m·{C}) weights, not {w.shape}")
    m = K // C
    (sy, sx), (dy, dx) = stride, dilation
    (t, bt), (lf, rt) = pad
    Ho = window_count(H, dy * (FH - 1) + 1, sy, t, bt, False)
    Wo = window_count(W, dx * (FW - 1) + 1, sx, lf, rt, False)
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    L = Wo * K
    if strided is None:
        strided = depthwise_strided(sx, K, Wo)
    if strided:  # one band of padded columns, the taps read every S-th: no phase copies
        phases = [(0, 0, dx, FW)]
        Q = (Wo - 1) * sx + dx * (FW - 1) + 1
    else:
        phases = _phases(FW, sx, dx)
        Q = Wo + (FW - 1) * dx // sx  # columns of a phase the taps read
    wts: list[Array] = []
    bias = None
    Wb = Wo if strided else depthwise_block(Wo, K, sx)  # columns a row of tiled weights spans
    nb, Lb = Wo // Wb, Wb * K
    if strided:
        wts.append(w[:, :, 0])
    else:  # the weights tiled along Wb columns, by phase: (FH, taps, Wb·K); the bias last
        wt = scratch(arena, "dw_w", (FH * FW + 1, Lb), x.dtype)
        used = 0
        for p, _, _, n_taps in phases:
            fxs = [fx for fx in range(FW) if fx * dx % sx == p]
            part = wt[used : used + FH * n_taps].reshape(FH, n_taps, Wb, K)
            part[...] = w[:, fxs, 0][:, :, None, :]
            t0, t1, _, t3 = part.strides  # the same weights for every block of Wb columns
            wts.append(strided_view(part, (FH, n_taps, nb, Lb), (t0, t1, 0, t3)))
            used += FH * n_taps
        if b is not None:
            bias = wt[used].reshape(Wb, K)
            bias[...] = b
            bias = bias.reshape(Lb)
    threaded = depthwise_threads(N, Ho, Wo, K, (FH, FW))
    budget = chunk_bytes or depthwise_budget(N, Ho, L * x.itemsize, threaded)
    pieces = list(chunks(N, Ho, L * x.itemsize, budget))
    workers = max(1, min(threaded, len(pieces)))
    g, band = largest_chunk(N, Ho, L * x.itemsize, budget)
    rows_in = (band - 1) * sy + dy * (FH - 1) + 1
    shape = (len(phases), g, rows_in, Q, K)
    bands = [scratch(arena, f"dw_band{i}", shape, x.dtype) for i in range(workers)]
    sums = [
        scratch(arena, f"dw_sum{i}", (g, band, L), x.dtype) if len(phases) > 1 else None
        for i in range(workers)
    ]

    def run(i: int) -> None:
        for images, rows in pieces[i::workers]:
            n, R = images.stop - images.start, rows.stop - rows.start
            u0 = rows.start * sy  # padded input rows u0 .. u1 − 1 feed these output rows
            u1 = (rows.stop - 1) * sy + dy * (FH - 1) + 1
            src = bands[i][:, :n, : u1 - u0]
            _fill(src, x[images], u0, (t, lf), [p for p, *_ in phases], 1 if strided else sx, m)
            if strided:  # the sums run along K only: (n, R, Wo, K), the taps S columns apart
                ph = src[0]
                s0, s1, s2, s3 = ph.strides
                taps = strided_view(ph, (FH, FW, n, R, Wo, K),
                                  (dy * s1, dx * s2, s0, sy * s1, sx * s2, s3))  # fmt: skip
                y = out[images, rows]
                np.einsum("ftnrxk,ftk->nrxk", taps, wts[0], out=y)
                if b is not None:
                    np.add(y, b, out=y)
                for op in epilogue:
                    op(y, (images, rows))
                continue
            acc = out[images, rows].reshape(n, R, nb, Lb)
            for j, (_, o0, ostep, n_taps) in enumerate(phases):
                ph = src[j]  # (n, rows in, Q, K), C-contiguous from the row axis on
                s0, s1, s2, s3 = ph.strides
                taps = strided_view(ph[:, :, o0:], (FH, n_taps, n, R, nb, Lb),
                                    (dy * s1, ostep * s2, s0, sy * s1, Wb * s2, s3))  # fmt: skip
                if j == 0:
                    np.einsum("ftnrbi,ftbi->nrbi", taps, wts[j], out=acc)
                else:
                    part = sums[i]
                    assert part is not None
                    tmp = part[:n, :R].reshape(n, R, nb, Lb)
                    np.einsum("ftnrbi,ftbi->nrbi", taps, wts[j], out=tmp)
                    np.add(acc, tmp, out=acc)
            if bias is not None:
                np.add(acc, bias, out=acc)
            y = out[images, rows]
            for op in epilogue:
                op(y, (images, rows))

    spread(run, workers, here=blas_holds())  # OpenBLAS's spinning workers hold the others
    return out


def _fill(band: Array, x: Array, u0: int, before: Pair, phases: list[int], sx: int, m: int) -> None:
    """band[j, :, r, q] = the padded input at row u0 + r, column q·S + phases[j] (zero in the
    padding), each input channel repeated m times."""
    _, n, rows, Q, K = band.shape
    H, W = x.shape[1], x.shape[2]
    t, lf = before
    a0, a1 = max(u0, t), min(u0 + rows, t + H)  # padded rows that hold input rows
    for j, p in enumerate(phases):
        b = band[j]
        if a0 >= a1:
            b[...] = 0
            continue
        b[:, : a0 - u0] = 0
        b[:, a1 - u0 :] = 0
        q0 = max(0, -(-(lf - p) // sx))  # first column of the phase inside the input
        q1 = min(Q, (W - 1 + lf - p) // sx + 1)
        inner = b[:, a0 - u0 : a1 - u0]
        if q0 >= q1:
            inner[...] = 0
            continue
        inner[:, :, :q0] = 0
        inner[:, :, q1:] = 0
        cols = x[:, a0 - t : a1 - t, q0 * sx + p - lf :: sx][:, :, : q1 - q0]
        if m == 1:
            inner[:, :, q0:q1] = cols
        else:
            dst = inner[:, :, q0:q1].reshape(n, a1 - a0, q1 - q0, K // m, m)
            dst[...] = cols[..., None]
