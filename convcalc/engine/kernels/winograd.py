"""Winograd F(m×m, 3×3) for 3×3 stride-1 convolutions (m = 4, or 2 for wide inputs).

Lavin & Gray 2015: a 3×3 stride-1 conv on (m+2)×(m+2) input tiles is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A,
(m+2)² GEMMs of (tiles, C) @ (C, K) instead of 9 of (pixels, C) @ (C, K): for m = 4, 4× fewer
multiplications, at a float32 error around 1e-5 of the output's scale. The input transform
Bᵀ·d·B runs in two passes of α×α on a chunk that fits SEPARABLE_BYTES, else as one kron GEMM.
The (m+2)² GEMMs of a chunk are shared between ``threads()`` threads when each is too small
for BLAS to thread (see ``sizing.BLAS_SINGLE``): a 28×28×128 → 32 input at batch 1, 49
tiles, would otherwise run them all on one core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...sizing import BLAS_SINGLE, SHARED_MIN, threads, winograd_chunk_bytes
from .arrays import Arena, Array, alloc, positive, scratch, spread, strided_view
from .chunks import RELU, Epilogue, Pads, chunks, finish, pad_nhwc
from .gemm import gemm

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


#: a chunk of input tiles of at most these bytes is transformed in two passes of α×α (along
#: the rows, then the columns: 2·α·α² multiply-adds a tile and channel), a bigger one by one
#: kron GEMM (α⁴), which reads and writes the chunk once, not twice. One thread, ms a chunk,
#: kron / two passes: F(4×4) on 192 tiles of 64 channels (1.8 MB) 0.60 / 0.22, 384 of 128
#: (7 MB) 2.47 / 1.63 (DenseNet's 56×56 128 → 32); 606 of 256 (22 MB) 7.56 / 7.54, 303 of
#: 512 7.37 / 7.12; F(2×2) 384 of 128 0.80 / 0.27, 768 of 256 (19 MB) 4.67 / 3.34, but 682
#: of 512 (22 MB) 5.76 / 6.45
SEPARABLE_BYTES = 8 << 20


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
    about 3·C tiles (see WINOGRAD_TILES), which measured best here.
    """
    N, H, W, C = x.shape
    a, _, _, K = U.shape
    m = a - 2
    if chunk_bytes is None:
        chunk_bytes = winograd_chunk_bytes(C, K, x.itemsize, m)
    (t, bt), (lf, rt) = pad
    Ho, Wo = H + t + bt - 2, W + lf + rt - 2
    ty, tx = -(-Ho // m), -(-Wo // m)  # tiles down and across; the last ones may overhang
    BT, AT = np.array(WINOGRAD[m][0]), np.array(WINOGRAD[m][2])
    Bt = BT.astype(x.dtype)  # (α, α), applied along the tile's rows, then its columns
    Bk = np.kron(Bt, Bt)  # (α², α²): both at once
    Ak = np.kron(AT, AT).astype(x.dtype)  # (m², α²)
    Uk = U.reshape(a * a, C, K)
    ones = int(np.flatnonzero((Ak == 1).all(axis=0))[0])  # a tap every output sums as it is
    relu = bool(epilogue) and epilogue[0] is RELU  # applied while the tiles are copied out
    rest = epilogue[1:] if relu else epilogue
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    per_row = tx * a * a * (2 * C + K) * x.itemsize  # D, V and M for one row of tiles
    for images, rows in chunks(N, ty, per_row, chunk_bytes):
        n, T = images.stop - images.start, rows.stop - rows.start
        if rows.start == 0:  # pad this group of images, with room for overhanging tiles
            full = ((t, ty * m + 2 - H - t), (lf, tx * m + 2 - W - lf))
            shape = (n, ty * m + 2, tx * m + 2, C)
            xp = pad_nhwc(x[images], full, out=scratch(arena, "pad", shape, x.dtype))
            s0, s1, s2, s3 = xp.strides
            tiles = strided_view(xp, (n, ty, tx, a, a, C), (s0, m * s1, m * s2, s1, s2, s3))
        P = n * T * tx
        D = scratch(arena, "wd", (a, a, n, T, tx, C), x.dtype)  # the input tiles, by tap
        np.copyto(D, tiles[:, rows].transpose(3, 4, 0, 1, 2, 5))
        V = scratch(arena, "wv", (a * a, P, C), x.dtype)
        if D.nbytes > SEPARABLE_BYTES:  # Bᵀ·d·B, both sides of the tile in one GEMM
            gemm(Bk, D.reshape(a * a, P * C), V.reshape(a * a, P * C))
        else:  # along the rows into V's buffer (Bᵀ·d), then the columns back into D's
            # α GEMMs a pass, each (α, α) @ (α, P·C): one (α, α) @ (α, α·P·C) GEMM took 3×
            # as long here
            D3, half = D.reshape(a, a, P * C), V.reshape(a, a, P * C)
            gemm(Bt, D3.transpose(1, 0, 2), half.transpose(1, 0, 2))
            gemm(Bt, half, D3)
            V = D.reshape(a * a, P, C)
        M = scratch(arena, "wm", (a * a, P, K), x.dtype)
        _products(V, Uk, M)  # (α², P, C) @ (α², C, K): α² GEMMs
        if b is not None:  # every output of a tile sums this tap once: the bias goes in here
            np.add(M[ones], b, out=M[ones])
        Y = scratch(arena, "wz", (m, m, P * K), x.dtype)
        gemm(Ak, M.reshape(a * a, P * K), Y.reshape(m * m, P * K))  # Aᵀ·M·A
        y0, y1 = rows.start * m, min(Ho, rows.stop * m)
        y = out[images, y0:y1]
        _untile(Y.reshape(m, m, n, T, tx, K).transpose(2, 3, 0, 4, 1, 5), y, relu)
        finish(y, (images, slice(y0, y1)), None, rest)
    return out


def _products(V: Array, U: Array, M: Array) -> None:
    """M[i] = V[i] @ U[i] for each of the α² taps: one batched call BLAS threads, or, when
    each GEMM is too small for that, the taps shared between the engine's threads (``spread``:
    not in a step run alone, nor on one of the engine's threads)."""
    taps, P, C = V.shape
    each = P * C * U.shape[2]
    workers = min(threads(), taps) if each <= BLAS_SINGLE and each * taps >= SHARED_MIN else 1
    if workers == 1:
        gemm(V, U, M)
        return
    parts = [slice(taps * i // workers, taps * (i + 1) // workers) for i in range(workers)]

    def share(i: int) -> None:
        np.matmul(V[parts[i]], U[parts[i]], out=M[parts[i]])

    spread(share, workers)


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
