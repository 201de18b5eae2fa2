"""kn2row: a stride-1 conv with many input and few output channels as one wide GEMM and shifts.

im2col multiplies (positions, FH·FW·C) columns by (FH·FW·C, K) filters: with K = 32 (DenseNet's
128 → 32 3×3) the GEMM is 32 columns wide, a poor shape for BLAS, and the columns are FH·FW
copies of the input. Winograd saves multiplications, but its input transform (36×36 per tile
and channel) then costs more than its products. kn2row multiplies the input itself by all the
taps' filters at once, Y = X (positions, C) @ W (C, FH·FW·K), a GEMM BLAS runs near its peak
(one thread here: 25088×128 by 128×288 at 46 GMAC/s, the im2col one 35), then adds each tap's
K columns of Y, shifted by the tap's offset, into the output (Vasudevan et al. 2017). The
shifted adds cost some 10% of the GEMM. Stride 1 only (the shift of a stride-S conv would
subsample Y, wasting S² of it); any filter size, padding and dilation.

The work is cut into blocks of input rows (whole images when several fit ``sizing.KN2ROW_BYTES``
of Y) that each thread multiplies into its own Y and adds into its share of the output: whole
images when the batch has at least one for each thread, else bands of output rows, whose few
input rows at a band's edge are multiplied by both threads. The output starts as the bias (or
zeros) and every tap adds, so a block may add into rows of the next block before it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...sizing import (
    KN2ROW_BYTES,
    kn2row_blocks,
    kn2row_input_rows,
    kn2row_workers,
    thread_regions,
)
from .arrays import Arena, Array, alloc, scratch, spread, workers
from .chunks import Epilogue, Pads, Pair, finish, window_count
from .gemm import own_threads, owning


def kn2row_weights(w: Array) -> Array:
    """Filters (FH, FW, C, K) as kn2row multiplies them: (C, FH, FW, K), contiguous."""
    return np.ascontiguousarray(w.transpose(2, 0, 1, 3))


def conv2d_kn2row(
    x: Array,
    wk: Array,
    b: Array | None = None,
    *,
    pad: Pads = ((0, 0), (0, 0)),
    dilation: Pair = (1, 1),
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    block_bytes: int | None = None,
) -> Array:
    """A stride-1 convolution through kn2row; ``wk`` from ``kn2row_weights``.

    x: (N, H, W, C) -> (N, Ho, Wo, K), Ho = H + top + bottom − dy·(FH − 1).
    """
    N, H, W, C = x.shape
    C2, FH, FW, K = wk.shape
    if C2 != C:
        raise ValueError(f"kn2row filters for {C2} input channels, the input has {C}")
    (t, bt), (lf, rt) = pad
    Ho = window_count(H, dilation[0] * (FH - 1) + 1, 1, t, bt, False)
    Wo = window_count(W, dilation[1] * (FW - 1) + 1, 1, lf, rt, False)
    share = kn2row_workers(N, Ho, Wo, C, K * FH * FW, workers())
    if share > 1 and not owning():  # each thread runs its own GEMMs, OpenBLAS on one
        restore = own_threads(0, force=True)
        try:
            if owning():  # else BLAS keeps its threads (CONVCALC_BLAS=blas)
                return conv2d_kn2row(
                    x, wk, b, pad=pad, dilation=dilation, epilogue=epilogue, arena=arena,
                    block_bytes=block_bytes,
                )  # fmt: skip
        finally:
            restore()
        share = 1
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    budget = KN2ROW_BYTES if block_bytes is None else block_bytes
    regions = thread_regions(N, Ho, share)
    reach, TK = dilation[0] * (FH - 1), FH * FW * K
    ys = []
    for i, (images, rows) in enumerate(regions):
        a0, a1 = kn2row_input_rows(rows, t, reach, H)
        g, band = kn2row_blocks(images[1] - images[0], a1 - a0, W, TK, x.itemsize, budget)
        ys.append(scratch(arena, f"kn_y{i}", (g * band * W, TK), x.dtype))
    taps = [(i * dilation[0] - t, j * dilation[1] - lf) for i in range(FH) for j in range(FW)]
    job = _Job(x, wk.reshape(C, TK), b, out, taps, (t, reach), regions, ys, epilogue, budget)
    spread(job.run, len(regions))
    return out


def _span(lo: int, hi: int, offset: int, size: int) -> Pair:
    """Outputs o in [lo, hi) whose input o + offset lies in [0, size)."""
    return max(lo, -offset), min(hi, size - offset)


class _Job(NamedTuple):
    """What each thread runs on its region (``regions[i]``), with its own Y (``ys[i]``)."""

    x: Array  # (N, H, W, C)
    w: Array  # (C, taps·K)
    b: Array | None
    out: Array  # (N, Ho, Wo, K)
    taps: list[Pair]  # the input (row, column) each tap reads at output (0, 0)
    rows: Pair  # the top padding, and dy·(FH − 1)
    regions: list[tuple[Pair, Pair]]  # each thread's (images, output rows)
    ys: list[Array]  # each thread's Y, (positions, taps·K)
    epilogue: Sequence[Epilogue]
    budget: int  # bytes of a block's Y

    def run(self, r: int) -> None:
        (i0, i1), (y0, y1) = self.regions[r]
        x, out = self.x, self.out
        _, H, W, C = x.shape
        Wo = out.shape[2]
        T, TK = len(self.taps), self.w.shape[1]
        a0, a1 = kn2row_input_rows((y0, y1), *self.rows, H)
        g, band = kn2row_blocks(i1 - i0, a1 - a0, W, TK, x.itemsize, self.budget)
        flat = Wo == W  # then each tap adds one run per image (see ``_flat``)
        # a tap reading (0, 0) covers every output when the block is the whole region: it
        # writes first, and the others add
        whole = band >= a1 - a0 and a0 <= y0 and a1 >= y1 and Wo <= W
        centre = self.taps.index((0, 0)) if (0, 0) in self.taps and whole else -1
        order = [centre, *(t for t in range(T) if t != centre)] if centre >= 0 else range(T)
        for n0 in range(i0, i1, g):
            n1 = min(i1, n0 + g)
            y = out[n0:n1, y0:y1]
            if centre < 0 and self.b is not None:  # every tap adds: start from the bias
                y[...] = self.b
            elif centre < 0:
                y.fill(0)
            for r0 in range(a0, a1, max(band, 1)):
                r1 = min(a1, r0 + band)
                M = (n1 - n0) * (r1 - r0) * W
                Y = self.ys[r][:M]
                np.matmul(x[n0:n1, r0:r1].reshape(M, C), self.w, out=Y)
                Y5 = Y.reshape(n1 - n0, r1 - r0, W, T, TK // T)
                for t in order:
                    dy, dx = self.taps[t]
                    o0, o1 = _span(y0, y1, dy - r0, r1 - r0)  # input rows in [r0, r1)
                    c0, c1 = _span(0, Wo, dx, W)
                    if o0 >= o1 or c0 >= c1:
                        continue
                    src = Y5[:, o0 + dy - r0 : o1 + dy - r0, :, t]
                    if t == centre:  # it covers the whole block: the first write
                        dst, src = out[n0:n1, o0:o1], src[:, :, :Wo]
                        if self.b is None:
                            np.copyto(dst, src)
                        else:
                            np.add(src, self.b, out=dst)
                    elif flat and _flat(out[n0:n1, o0:o1], src, dx):
                        pass
                    else:
                        dst = out[n0:n1, o0:o1, c0:c1]
                        np.add(dst, src[:, :, c0 + dx : c1 + dx], out=dst)
            finish(y, (slice(n0, n1), slice(y0, y1)), None, self.epilogue)


def _flat(dst: Array, src: Array, dx: int) -> bool:
    """dst (n, rows, W, K) += src (n, rows, W, K) shifted by dx columns, as one run of
    rows·W positions per image, not one per row (twice as fast here: each row's run of a
    56×56×32 output is short). The columns a shifted run wraps into are zeroed in ``src``
    (they are the padding: each tap has its own columns of Y). Returns False, adding
    nothing, where the rows of ``dst`` are not one run."""
    n, rows, W, K = dst.shape
    s0, s1, s2, s3 = dst.strides
    if s1 != W * s2 or src.strides[1] != W * src.strides[2]:
        return False
    if dx < 0:
        src[:, :, W + dx :] = 0
    elif dx > 0:
        src[:, :, :dx] = 0
    d = as_strided(dst, (n, rows * W, K), (s0, s2, s3))
    t0, _, t2, t3 = src.strides
    s = as_strided(src, (n, rows * W, K), (t0, t2, t3))
    L = rows * W
    if dx >= 0:
        np.add(d[:, : L - dx], s[:, dx:], out=d[:, : L - dx])
    else:
        np.add(d[:, -dx:], s[:, : L + dx], out=d[:, -dx:])
    return True
