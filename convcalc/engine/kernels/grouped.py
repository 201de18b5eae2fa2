"""Grouped convolutions of more than one channel a group: im2col, then one batched GEMM over
the groups, merged B at a time into block-diagonal GEMMs.

A GEMM per group is tiny (9·Cg columns, Kg outputs: 72 × 8 for RegNet-Y's), far below the
BLAS peak, and a Python loop over 32 to 55 groups costs as much again. So the patch matrix of
a chunk is copied once, as (S, positions, FH·FW·B·Cg) for S = G / B super-groups of B
neighbouring groups, and one ``np.matmul`` over that stack multiplies it by the block-diagonal
weights of every super-group (B·Kg outputs each), writing straight into the output's channels
(a stack of strided matrices BLAS takes as they are). Merging B groups wastes B× the
multiplications but makes each GEMM B² times larger; ``grouped_merge`` picks B by measurement.

The copies cost more than the GEMMs (they write FH·FW values for each input value, in runs
of a few channels): the padded input is first split into one plane a super-group, so that a
patch row is a run of FW·Bc values, not Bc (3.7 ms instead of 10.5 for ResNeXt's 28×28×256
at batch 8), and the copies of a chunk are shared between ``threads()`` threads. So are the
GEMMs, when each super-group's is too small for BLAS to thread (OpenBLAS runs a GEMM of at
most ``BLAS_SINGLE`` multiply-adds on the calling thread): else they would all run on one
core, 40% of ResNeXt's 28×28×256 at batch 8 (4.6 of 11.7 ms, one thread). The epilogues of a
big chunk are shared too, by images or rows (see ``sharing``).

With planes (narrow super-groups), a layer runs a super-group at a time instead: on one
thread, or cut between the engine's threads once for the whole layer (``_Patches``), each
thread's super-groups through every chunk, which spares the one or two hand-offs a chunk
costs (30-90 µs each, a few ms a layer on a busy machine). A stride-1 layer of at least
``ROWS_FROM`` output rows copies only the rows of its patches (``_Rows``), a third of the
columns, and runs FH GEMMs over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ...sizing import (
    BLAS_SINGLE,
    grouped_gemm_budget,
    grouped_gemm_scratch,
    grouped_merge,
    largest_chunk,
    threads,
)
from .arrays import Arena, Array, alloc, runs, scratch, strided_view
from .chunks import (
    Epilogue,
    Pads,
    Pair,
    chunks,
    copy_columns,
    finish,
    pad_nhwc,
    window_count,
)
from .gemm import gemm, owning
from .sharing import SHARED_BYTES, Finish, shared, shares

#: a chunk's copies go to the engine's threads from this many bytes of columns on (below,
#: handing them over costs about what it saves)
THREADED_BYTES = 64 << 10
#: from this many bytes of columns in a layer, its super-groups are cut between the engine's
#: threads once for the whole layer (``_whole``), not chunk by chunk
WHOLE_BYTES = 1 << 20
#: ``_Rows`` takes chunks of at least this many output rows (below, the rows its patches
#: overhang cost more than its copies save: 7×7 outputs)
ROWS_FROM = 12
#: super-groups of fewer channels than this are split into planes of their own first; wider
#: ones read the padded input as it is (AlexNet's two groups of 48 and 192 channels, one
#: thread, batch 1: 6.6 and 3.5 ms through planes, 5.2 and 3.2 without)
SPLIT_BELOW = 32

__all__ = ["block_diagonal", "grouped_gemm2d", "grouped_gemm_scratch", "grouped_merge"]


def block_diagonal(w: Array, groups: int, merge: int, out: Array | None = None) -> Array:
    """(S, FH·FW·B·Cg, B·Kg) weights of S = groups / merge super-groups: super-group s
    holds groups s·B .. s·B + B − 1 on its diagonal, zero elsewhere (into ``out``, if given).

    w: (FH, FW, Cg, K) HWIO weights of ``groups`` groups.
    """
    FH, FW, Cg, K = w.shape
    G, B = groups, merge
    if G % B:
        raise ValueError(f"{B} groups a GEMM does not divide {G} groups")
    S, Kg = G // B, K // G
    shape = (S, FH, FW, B, Cg, B, Kg)
    bd = np.empty(shape, w.dtype) if out is None else out.reshape(shape)
    wg = w.reshape(FH, FW, Cg, S, B, Kg)
    if B > 1:
        bd[...] = 0
    for i in range(B):
        np.copyto(bd[:, :, :, i, :, i, :], wg[:, :, :, :, i, :].transpose(3, 0, 1, 2, 4))
    return bd.reshape(S, FH * FW * B * Cg, B * Kg)


def grouped_gemm2d(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    groups: int,
    merge: int | None = None,
    stride: Pair = (1, 1),
    pad: Pads = ((0, 0), (0, 0)),
    dilation: Pair = (1, 1),
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    chunk_bytes: int | None = None,
    stacked: Array | None = None,
) -> Array:
    """A grouped convolution as one batched GEMM a chunk (see the module's docstring).

    x: (N, H, W, C); w: (FH, FW, C // groups, K); b: (K,) or None; ``merge``: groups a
    GEMM (``grouped_merge``'s choice if None); ``stacked``: ``block_diagonal(w, groups,
    merge)``, if the caller has it.
    """
    N, H, W, C = x.shape
    FH, FW, Cg, K = w.shape
    G = groups
    if Cg * G != C or K % G:
        raise ValueError(f"groups={G} does not fit {C} input and {K} output channels")
    if stacked is None:
        B = grouped_merge(G, Cg) if merge is None else merge
        shape = (G // B, FH * FW * B * Cg, B * K // G)
        stacked = block_diagonal(w, G, B, scratch(arena, "stacked", shape, w.dtype))
    S, J, BK = stacked.shape
    Bc = C // S  # input channels of a super-group
    (sy, sx), (dy, dx) = stride, dilation
    (t, bt), (lf, rt) = pad
    Ho = window_count(H, dy * (FH - 1) + 1, sy, t, bt, False)
    Wo = window_count(W, dx * (FW - 1) + 1, sx, lf, rt, False)
    Hp, Wp = H + t + bt, W + lf + rt
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    if chunk_bytes is None:
        chunk_bytes = grouped_gemm_budget(S * J, K, x.itemsize)
    row_bytes = Wo * (S * J + K) * x.itemsize
    g, band = largest_chunk(N, Ho, row_bytes, chunk_bytes)
    planes = scratch(arena, "planes", (S, g, Hp, Wp, Bc), x.dtype)
    split = Bc < SPLIT_BELOW  # else the patch rows are long runs of the padded input itself
    workers = max(1, min(threads(), S))
    parts = [slice(S * i // workers, S * (i + 1) // workers) for i in range(workers)]
    whole = _whole(
        x, planes, (t, lf), stride, dilation, (FH, FW), stacked, out,
        scratch(arena, "cols", (g * band * Wo * S * J,), x.dtype),
        list(chunks(N, Ho, row_bytes, chunk_bytes)),
    ) if split else None  # fmt: skip
    alone = threads() == 1
    big = N * Ho * Wo * S * J * x.itemsize >= WHOLE_BYTES
    # not while OpenBLAS keeps its threads (no pass owns them: a mobile network at batch 1):
    # its workers spin on the other core after each GEMM, and taking the threads for this
    # layer alone made RegNet-X/-Y at batch 1 1.15/1.08× slower (2 threads, alternating)
    if whole is not None and (alone or (workers > 1 and big and owning())):
        if alone:
            whole.run(slice(0, S), b, epilogue)
        else:
            shared(lambda p: whole.run(p, None, ()), parts)
            if b is not None or epilogue:
                rest = Finish(out, slice(0, N), slice(0, Ho), b, epilogue)
                shared(rest.run, shares(N, Ho, Wo, threads()))
        return out
    for images, rows in chunks(N, Ho, row_bytes, chunk_bytes):
        n, R = images.stop - images.start, rows.stop - rows.start
        M = n * R * Wo
        if split:
            xs = planes[:, :n]
            s0, s1, s2, s3, s4 = xs.strides
        else:  # (n, Hp, Wp, C), super-group s at channels s·Bc ..
            if rows.start == 0:
                xp = planes.reshape(-1)[: n * Hp * Wp * C].reshape(n, Hp, Wp, C)
                xs = pad_nhwc(x[images], pad, out=xp)
            s1, s2, s3, s4 = xs.strides
            s0 = Bc * s4
        start = xs[..., rows.start * sy :, :, :] if split else xs[:, rows.start * sy :]
        taps = _taps(start, (s0, s1, s2, s3, s4), (S, n, R, Wo, FH), stride, dilation, FW,
                     Bc, split)  # fmt: skip
        y = out[images, rows]
        job = _Job(
            x[images] if split and rows.start == 0 else None, xs, (t, lf), taps,
            scratch(arena, "cols", (S, M, J), x.dtype),
            y.reshape(M, S, BK).transpose(1, 0, 2),  # (S, M, B·Kg), strided: BLAS takes it
            stacked,
        )  # fmt: skip
        # each GEMM on the thread that made its columns (one hand-off, the columns still in
        # cache): when BLAS would not thread it, or when the engine owns the threads and
        # ``gemm`` would cut the stack into these same parts after a second hand-off
        own = M * J * BK <= BLAS_SINGLE or (owning() and (S % workers == 0 or 4 * workers <= S))
        if workers == 1 or job.cols.nbytes < THREADED_BYTES:
            job.run(slice(0, S))
            gemm(job.cols, stacked, job.dst)
        else:
            shared(job.gemm if own else job.run, parts)
            if not own:
                gemm(job.cols, stacked, job.dst)  # threaded by BLAS or ``gemm``
        if workers > 1 and y.nbytes >= SHARED_BYTES and (epilogue or b is not None):
            shared(Finish(y, images, rows, b, epilogue).run, shares(n, R, Wo, threads()))
        else:
            finish(y, (images, rows), b, epilogue)
    return out


class _Job(NamedTuple):
    """One chunk's copies, which ``run`` makes for some of its super-groups on one of the
    engine's threads (NumPy copies on one core; the GEMM then runs on BLAS's threads, a call
    from each thread at once would ask for twice as many as there are)."""

    x: Array | None  # the chunk's images, when their planes are still to fill
    planes: Array  # (S, n, padded H, padded W, Bc)
    before: Pair  # padding (top, left)
    taps: Array  # a view of planes, (S, n, rows, Wo, FH, FW, Bc), or (S, n, rows, Wo, FH, 1)
    # of runs of FW·Bc values (``runs``) when a patch row is contiguous in the planes
    cols: Array  # (S, positions, FH·FW·Bc)
    dst: Array  # (S, positions, B·Kg), the chunk of the output
    stacked: Array  # (S, FH·FW·Bc, B·Kg), the block-diagonal weights

    def run(self, p: slice) -> None:
        """Super-groups p: their planes (for a new group of images), their columns."""
        if self.x is not None:
            _split(self.planes[p], self.x, self.before, p.start)
        copy_columns(self.cols[p], self.taps[p])

    def gemm(self, p: slice) -> None:
        """Super-groups p: their columns, then their GEMMs."""
        self.run(p)
        np.matmul(self.cols[p], self.stacked[p], out=self.dst[p])


def _taps(
    start: Array, strides: tuple[int, ...], shape: tuple[int, ...], stride: Pair,
    dilation: Pair, FW: int, Bc: int, planes: bool,
) -> Array:  # fmt: skip
    """The patches read from ``start`` (super-groups at stride s0, from the chunk's first
    input row), ``shape`` (S, n, rows, Wo, FH) by FW·Bc values: (..., FW, Bc), or
    (..., 1) runs of FW·Bc values (``runs``) when a patch row is contiguous in ``planes``."""
    s0, s1, s2, s3, s4 = strides
    (sy, sx), (dy, dx) = stride, dilation
    rows = (s0, s1, sy * s2, sx * s3, dy * s2)
    if planes and dx * s3 == Bc * s4:  # a patch row is one run of FW·Bc values
        return runs(strided_view(start, (*shape, FW * Bc), (*rows, s4)))
    return strided_view(start, (*shape, FW, Bc), (*rows, dx * s3, s4))


def _whole(
    x: Array, planes: Array, before: Pair, stride: Pair, dilation: Pair, size: Pair,
    stacked: Array, out: Array, buf: Array, pieces: list[tuple[slice, slice]],
) -> _Patches | _Rows:  # fmt: skip
    """A layer's work a super-group at a time (see ``_Patches``), by ``_Rows`` where that
    pays and fits in ``buf``, the columns' slot."""
    S, g, _, _, Bc = planes.shape
    (FH, FW), (N, Ho, Wo, K) = size, out.shape
    band = pieces[0][1].stop if pieces else 0
    if band < Ho:  # bands of one image: ``_Rows`` copies a third, so it takes taller ones
        slack = S * FH * FW * Bc
        band = min(Ho, (buf.size - slack) // (Wo * (FW * S * Bc + K)) - FH + 1)
    hq = band + FH - 1
    hfw = S * (g * Wo * hq + FH) * FW * Bc  # the row patches, FH rows of slack a super-group
    fits = hfw + g * Wo * hq * K <= buf.size
    if (stride[0], dilation) == (1, (1, 1)) and FH > 1 and band >= ROWS_FROM and fits:
        rows = buf[:hfw].reshape(S, -1, FW * Bc)
        products = buf[hfw : hfw + g * Wo * hq * K].reshape(-1, K)
        if band < Ho or pieces[0][1].stop < Ho:
            pieces = [(slice(i, i + 1), slice(y, min(Ho, y + band)))
                      for i in range(N) for y in range(0, Ho, band)]  # fmt: skip
        return _Rows(x, planes, before, stride[1], FH, FW, Wo, stacked, out, rows, products,
                     pieces)  # fmt: skip
    cols = buf.reshape(S, -1, FH * FW * Bc)
    return _Patches(x, planes, before, stride, dilation, FH, FW, Wo, stacked, out, cols, pieces)


class _Patches(NamedTuple):
    """Every chunk of a layer, for some of its super-groups (``run``): their planes, columns
    and GEMMs, chunk after chunk, in one hand-off a layer on each of the engine's threads
    instead of one or two a chunk. A thread writes only its super-groups' planes and columns
    (laid out for the largest chunk, so that a smaller one moves no super-group's rows into
    another's) and its channels of the output."""

    x: Array
    planes: Array  # (S, images of a chunk, padded H, padded W, Bc)
    before: Pair  # padding (top, left)
    stride: Pair
    dilation: Pair
    FH: int
    FW: int
    Wo: int
    stacked: Array  # (S, FH·FW·Bc, B·Kg)
    out: Array  # (N, Ho, Wo, K)
    cols: Array  # (S, positions of the largest chunk, FH·FW·Bc)
    pieces: list[tuple[slice, slice]]  # the chunks' (images, rows)

    def run(self, p: slice, b: Array | None, epilogue: Sequence[Epilogue]) -> None:
        """Super-groups p, every chunk; then, if given, the bias and epilogues of each chunk
        (p must be all super-groups then)."""
        sy = self.stride[0]
        S, _, _, _, Bc = self.planes.shape
        BK = self.stacked.shape[2]
        for images, rows in self.pieces:
            n, R = images.stop - images.start, rows.stop - rows.start
            M = n * R * self.Wo
            xs = self.planes[p, :n]
            if rows.start == 0:
                _split(xs, self.x[images], self.before, p.start)
            shape = (xs.shape[0], n, R, self.Wo, self.FH)
            taps = _taps(xs[:, :, rows.start * sy :], xs.strides, shape, self.stride,
                         self.dilation, self.FW, Bc, True)  # fmt: skip
            cols = self.cols[p, :M]
            copy_columns(cols, taps)
            y = self.out[images, rows]
            np.matmul(cols, self.stacked[p], out=y.reshape(M, S, BK).transpose(1, 0, 2)[p])
            if b is not None or epilogue:
                finish(y, (images, rows), b, epilogue)


class _Rows(NamedTuple):
    """``_Patches`` for stride 1 down, undilated, without the FH× copy: only the rows of each
    patch are copied, FW·Bc values for every padded input row and output column, as
    (S, images, output columns, input rows, FW·Bc). Patch (y, x) is then FH such rows in a
    row, at (x, y) .. (x, y + FH − 1): the patches of every FH-th input row are one plain
    (positions, FH·FW·Bc) matrix, FH GEMMs in all, each writing every FH-th row of
    ``products`` (images, output columns, input rows, K); the FH − 1 rows that overhang the
    bottom of each column are computed and dropped. A third of the copy of ``_Patches``,
    (FH − 1) / (rows + FH − 1) more multiplications. Best CPU time of 7, alternating, one
    thread, batch 8, ms, the chunked path before / this: ResNeXt's 56×56×128 in 32 groups
    17.9 / 15.2, 28×28×256 9.3 / 8.0, RegNetY's 28×28×104 in 13 groups 3.4 / 2.9, RegNetX's
    14×14×160 in 10 groups 1.6 / 1.3; at 7×7 it lost (0.83 against 0.78, ``ROWS_FROM``).
    A band of one image holds as many rows as the columns' slot does (more than ``_Patches``'
    bands: ResNeXt's 56×56×128 at batch 8 took 16.7 ms in 14-row bands, 14.7 in whole
    images)."""

    x: Array
    planes: Array  # (S, images of a chunk, padded H, padded W, Bc)
    before: Pair  # padding (top, left)
    sx: int  # stride across
    FH: int
    FW: int
    Wo: int
    stacked: Array  # (S, FH·FW·Bc, B·Kg)
    out: Array  # (N, Ho, Wo, K)
    rows: Array  # (S, positions of the largest chunk's columns + FH, FW·Bc)
    products: Array  # (positions of the largest chunk's columns, K)
    pieces: list[tuple[slice, slice]]

    def run(self, p: slice, b: Array | None, epilogue: Sequence[Epilogue]) -> None:
        """As ``_Patches.run``."""
        S, _, _, _, Bc = self.planes.shape
        FH, FW, Wo = self.FH, self.FW, self.Wo
        BK = self.stacked.shape[2]
        K = S * BK
        for images, rows in self.pieces:
            n, R = images.stop - images.start, rows.stop - rows.start
            hq = R + FH - 1  # input rows of the band
            L = n * Wo * hq
            xs = self.planes[p, :n]
            if rows.start == 0:
                _split(xs, self.x[images], self.before, p.start)
            s0, s1, s2, s3, s4 = xs.strides
            src = strided_view(
                xs[:, :, rows.start :], (xs.shape[0], n, Wo, hq, FW * Bc),
                (s0, s1, self.sx * s3, s2, s4),
            )  # fmt: skip
            mine = self.rows[p]
            np.copyto(runs(mine[:, :L].reshape(src.shape)), runs(src))
            mine[:, L : L + FH] = 0  # read by the overhanging patches of the last column
            r0, r1, r2 = mine.strides
            products = self.products[:L]
            for r in range(FH):
                m = -(-(L - r) // FH)
                patches = strided_view(mine[:, r:], (mine.shape[0], m, FH * FW * Bc),
                                       (r0, FH * r1, r2))  # fmt: skip
                dst = products[r::FH].reshape(m, S, BK).transpose(1, 0, 2)[p]
                np.matmul(patches, self.stacked[p], out=dst)
            y = self.out[images, rows]
            k = slice(p.start * BK, p.stop * BK)
            np.copyto(y[..., k], products.reshape(n, Wo, hq, K)[:, :, :R, k].transpose(0, 2, 1, 3))
            if b is not None or epilogue:
                finish(y, (images, rows), b, epilogue)


def _split(xs: Array, x: Array, before: Pair, first: int) -> None:
    """xs[s, i, u, v] = the padded image i at (u, v), channels of super-group first + s (zero
    in the padding): every super-group's channels in a plane of their own, so that the patch
    copy reads runs of FW·Bc values instead of Bc."""
    S, n, _, _, Bc = xs.shape
    _, H, W, C = x.shape
    t, lf = before
    xs[:, :, :t] = 0
    xs[:, :, t + H :] = 0
    xs[:, :, t : t + H, :lf] = 0
    xs[:, :, t : t + H, lf + W :] = 0
    src = x.reshape(n, H, W, C // Bc, Bc)[:, :, :, first : first + S]
    dst = xs[:, :, t : t + H, lf : lf + W]
    if src.strides[-1] == src.itemsize:  # a super-group's channels as one element
        src, dst = runs(src), runs(dst)
    np.copyto(dst, src.transpose(3, 0, 1, 2, 4))
