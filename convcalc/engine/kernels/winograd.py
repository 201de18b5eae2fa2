"""Winograd F(m×m, 3×3) for 3×3 stride-1 convolutions (m = 4, or 2 for wide inputs).

Lavin & Gray 2015: a 3×3 stride-1 conv on (m+2)×(m+2) input tiles is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A,
(m+2)² GEMMs of (tiles, C) @ (C, K) instead of 9 of (pixels, C) @ (C, K): for m = 4, 4× fewer
multiplications, at a float32 error around 1e-5 of the output's scale. The input transform
Bᵀ·d·B runs in two passes of α×α on a chunk that fits SEPARABLE_BYTES, else as one kron GEMM.
A few-output conv (``sizing.few_out``: DenseNet's 128 → 32) is cut into one region a thread
(``sizing.winograd_workers``), each with its own buffers and OpenBLAS on one thread; in
others the (m+2)² GEMMs of a chunk are shared between ``threads()`` threads when each is too
small for BLAS to thread (see ``sizing.BLAS_SINGLE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...sizing import (
    BLAS_SINGLE,
    SHARED_MIN,
    largest_chunk,
    thread_regions,
    threads,
    winograd_chunk_bytes,
    winograd_workers,
)
from .arrays import Arena, Array, alloc, positive, scratch, set_solo, solo, spread, workers
from .chunks import RELU, Epilogue, Pads, chunks, finish, pad_nhwc
from .gemm import gemm, own_threads, owning

WINOGRAD = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    ),
}  # fmt: skip


def winograd_weights(w: Array, m: int = 4) -> Array:
    """U = G·g·Gᵀ for every (c, k): w (3, 3, C, K) -> (α, α, C, K), α = m + 2."""
    G = np.array(WINOGRAD[m][1], w.dtype)
    # G·g first along the rows (a, 3, C, K), then along the columns: two small products in
    # the weights' own dtype, so the transient stays near three copies of U's size
    rows = np.tensordot(G, w, axes=(1, 0))  # (α, 3, C, K)
    out: Array = np.einsum("bj,ajck->abck", G, rows, optimize=True)
    return out


def conv3x3_winograd(
    x: Array,
    U: Array,
    b: Array | None = None,
    *,
    pad: Pads = ((1, 1), (1, 1)),
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    chunk_bytes: int | None = None,
) -> Array:
    """A 3×3, stride-1 conv through Winograd F(m×m, 3×3); U from ``winograd_weights``.

    x: (N, H, W, C) -> (N, H + top + bottom − 2, W + left + right − 2, K). Chunks hold
    about 3·C tiles (see WINOGRAD_TILES), which measured best here. A big conv is cut into
    one region a thread (``sizing.thread_regions``: its images, or its rows of tiles at batch
    1), each running its own transforms and products with OpenBLAS on one thread: OpenBLAS
    threads the transforms' GEMMs poorly and the copies not at all (DenseNet-121's 56×56
    128 → 32 at batch 8, 2 threads: 12.8 ms wall, 24.7 CPU, against 16.2 on one thread).
    """
    N, H, W, C = x.shape
    a, _, _, K = U.shape
    m = a - 2
    if chunk_bytes is None:
        chunk_bytes = winograd_chunk_bytes(C, K, x.itemsize, m)
    (t, bt), (lf, rt) = pad
    Ho, Wo = H + t + bt - 2, W + lf + rt - 2
    ty, tx = -(-Ho // m), -(-Wo // m)  # tiles down and across; the last ones may overhang
    share = winograd_workers(N, ty, tx, C, K, m, workers())
    if share > 1 and not owning():  # each thread runs its own GEMMs, OpenBLAS on one
        restore = own_threads(0, force=True)
        try:
            if owning():  # else BLAS keeps its threads (CONVCALC_BLAS=blas)
                return conv3x3_winograd(
                    x, U, b, pad=pad, epilogue=epilogue, arena=arena, chunk_bytes=chunk_bytes
                )
        finally:
            restore()
        share = 1
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    regions = thread_regions(N, ty, share)
    per_row = tx * a * a * (2 * C + K) * x.itemsize  # D, V and M for one row of tiles
    bufs = []
    for i, ((i0, i1), (r0, r1)) in enumerate(regions):
        g, band = largest_chunk(i1 - i0, r1 - r0, per_row, chunk_bytes)
        P, name = g * band * tx, "" if share == 1 else str(i)
        shape = (g, (r1 - r0) * m + 2, tx * m + 2, C)
        bufs.append((
            scratch(arena, "pad" + name, shape, x.dtype),
            scratch(arena, "wd" + name, (a, a, P, C), x.dtype),
            scratch(arena, "wv" + name, (a * a, P, C), x.dtype),
            scratch(arena, "wm" + name, (a * a, P, K), x.dtype),
            scratch(arena, "wz" + name, (m, m, P, K), x.dtype),
        ))  # fmt: skip
    job = _Tiles(x, U.reshape(a * a, C, K), b, out, (t, lf), regions, bufs, epilogue, chunk_bytes)
    if len(regions) == 1:
        job.run(0)
    else:
        spread(job.run, len(regions))
    return out


class _Tiles(NamedTuple):
    """Each thread's region of a Winograd conv (``regions[i]``), with its buffers."""

    x: Array  # (N, H, W, C)
    U: Array  # (α², C, K)
    b: Array | None
    out: Array  # (N, Ho, Wo, K)
    before: tuple[int, int]  # the top and left padding
    regions: list[tuple[tuple[int, int], tuple[int, int]]]  # (images, rows of tiles)
    bufs: list[tuple[Array, Array, Array, Array, Array]]  # pad, wd, wv, wm, wz
    epilogue: Sequence[Epilogue]
    chunk_bytes: int

    def run(self, r: int) -> None:
        if len(self.regions) == 1:
            self._run(r)
            return
        was = set_solo(True)  # this thread's share: nothing in it is handed out again
        try:
            self._run(r)
        finally:
            set_solo(was)

    def _run(self, r: int) -> None:
        (i0, i1), (T0, T1) = self.regions[r]
        x, out, (t, lf) = self.x, self.out, self.before
        _, H, W, C = x.shape
        a2, _, K = self.U.shape
        a = round(a2**0.5)
        m = a - 2
        Ho, Wo = out.shape[1:3]
        tx = -(-Wo // m)
        BT, AT = np.array(WINOGRAD[m][0]), np.array(WINOGRAD[m][2])
        Bt = BT.astype(x.dtype)  # (α, α), applied along the tile's rows, then its columns
        Bk = np.kron(Bt, Bt)  # (α², α²): both at once
        Ak = np.kron(AT, AT).astype(x.dtype)  # (m², α²)
        ones = int(np.flatnonzero((Ak == 1).all(axis=0))[0])  # a tap every output sums as is
        relu = bool(self.epilogue) and self.epilogue[0] is RELU  # applied on the way out
        rest = self.epilogue[1:] if relu else self.epilogue
        pbuf, dbuf, vbuf, mbuf, zbuf = self.bufs[r]
        per_row = tx * a2 * (2 * C + K) * x.itemsize  # D, V and M for one row of tiles
        p0, p1 = T0 * m, T1 * m + 2  # the rows of the padded images this region reads
        for images, rows in chunks(i1 - i0, T1 - T0, per_row, self.chunk_bytes):
            n, T = images.stop - images.start, rows.stop - rows.start
            n0 = i0 + images.start
            if rows.start == 0:  # pad these images, with room for overhanging tiles
                top = max(0, t - p0)
                src = x[n0 : n0 + n, max(0, p0 - t) : max(0, min(H, p1 - t))]
                full = ((top, p1 - p0 - top - src.shape[1]), (lf, tx * m + 2 - W - lf))
                xp = pad_nhwc(src, full, out=pbuf[:n])
                s0, s1, s2, s3 = xp.strides
                tiles = as_strided(xp, (n, T1 - T0, tx, a, a, C), (s0, m * s1, m * s2, s1, s2, s3))
            P = n * T * tx
            D = dbuf.reshape(-1)[: a2 * P * C].reshape(a, a, n, T, tx, C)  # input tiles, by tap
            np.copyto(D, tiles[:, rows].transpose(3, 4, 0, 1, 2, 5))
            V = vbuf.reshape(-1)[: a2 * P * C].reshape(a2, P, C)
            if D.nbytes > SEPARABLE_BYTES:  # Bᵀ·d·B, both sides of the tile in one GEMM
                gemm(Bk, D.reshape(a2, P * C), V.reshape(a2, P * C))
            else:  # along the rows into V's buffer (Bᵀ·d), then the columns back into D's
                # α GEMMs a pass, each (α, α) @ (α, P·C): one (α, α) @ (α, α·P·C) GEMM took
                # 3× as long here
                D3, half = D.reshape(a, a, P * C), V.reshape(a, a, P * C)
                gemm(Bt, D3.transpose(1, 0, 2), half.transpose(1, 0, 2))
                gemm(Bt, half, D3)
                V = D.reshape(a2, P, C)
            M = mbuf.reshape(-1)[: a2 * P * K].reshape(a2, P, K)
            _products(V, self.U, M)  # (α², P, C) @ (α², C, K): α² GEMMs
            if self.b is not None:  # every output of a tile sums this tap once: the bias
                np.add(M[ones], self.b, out=M[ones])
            Y = zbuf.reshape(-1)[: m * m * P * K].reshape(m * m, P * K)
            gemm(Ak, M.reshape(a2, P * K), Y)  # Aᵀ·M·A
            y0, y1 = (T0 + rows.start) * m, min(Ho, (T0 + rows.stop) * m)
            y = out[n0 : n0 + n, y0:y1]
            _untile(Y.reshape(m, m, n, T, tx, K).transpose(2, 3, 0, 4, 1, 5), y, relu)
            finish(y, (slice(n0, n0 + n), slice(y0, y1)), None, rest)


#: a chunk of input tiles of at most these bytes is transformed in two passes of α×α (along
#: the rows, then the columns: 2·α·α² multiply-adds a tile and channel), a bigger one by one
#: kron GEMM (α⁴), which reads and writes the chunk once, not twice. One thread, ms a chunk,
#: kron / two passes: F(4×4) on 192 tiles of 64 channels (1.8 MB) 0.60 / 0.22, 384 of 128
#: (7 MB) 2.47 / 1.63 (DenseNet's 56×56 128 → 32); 606 of 256 (22 MB) 7.56 / 7.54, 303 of
#: 512 7.37 / 7.12; F(2×2) 384 of 128 0.80 / 0.27, 768 of 256 (19 MB) 4.67 / 3.34, but 682
#: of 512 (22 MB) 5.76 / 6.45
SEPARABLE_BYTES = 8 << 20


def _products(V: Array, U: Array, M: Array) -> None:
    """M[i] = V[i] @ U[i] for each of the α² taps: one batched call BLAS threads, or, when
    each GEMM is too small for that, the taps shared between the engine's threads (``spread``:
    not in a step run alone, nor on one of the engine's threads)."""
    taps, P, C = V.shape
    each = P * C * U.shape[2]
    k = min(threads(), taps) if each <= BLAS_SINGLE and each * taps >= SHARED_MIN else 1
    if k == 1 or solo():
        gemm(V, U, M)
        return
    parts = [slice(taps * i // k, taps * (i + 1) // k) for i in range(k)]

    def share(i: int) -> None:
        np.matmul(V[parts[i]], U[parts[i]], out=M[parts[i]])

    spread(share, k)


def _untile(src: Array, y: Array, relu: bool) -> None:
    """Tiles (n, T, m, tx, m, K) into the rows (n, rows, W, K) of the output, with a ReLU on
    the way if asked; the last row and column of tiles may overhang ``y`` and are cut."""
    n, _, m, _, _, K = src.shape
    rows, W = y.shape[1], y.shape[2]
    tf, xf, q, r = rows // m, W // m, rows % m, W % m  # whole tiles; the cut ones' extent

    def put(dst: Array, part: Array) -> None:
        if relu:
            positive(part, dst)
        else:
            np.copyto(dst, part)

    s0, s1, s2, s3 = y.strides
    if tf and xf:
        put(
            as_strided(y, (n, tf, m, xf, m, K), (s0, m * s1, s1, m * s2, s2, s3)),
            src[:, :tf, :, :xf],
        )
    if tf and r:
        right = y[:, :, xf * m :]
        put(as_strided(right, (n, tf, m, r, K), (s0, m * s1, s1, s2, s3)), src[:, :tf, :, xf, :r])
    if q and xf:
        bottom = y[:, tf * m :]
        put(as_strided(bottom, (n, q, xf, m, K), (s0, s1, m * s2, s2, s3)), src[:, tf, :q, :xf])
    if q and r:
        put(y[:, tf * m :, xf * m :], src[:, tf, :q, xf, :r])
