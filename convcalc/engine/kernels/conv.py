"""Convolutions: im2col + GEMM (CS231n style), locally connected, transposed.

The patch matrix is a strided view of the (padded) input, copied a chunk of output rows at a
time into a reused buffer (see ``chunks``), by ``threads()`` threads for big chunks while a
pass owns the threads (``SHARE_UNDER_BLAS``; never in a step run alone, ``gemm.alone``), as
are the GEMM (``gemm``) and the epilogues after it; a 1×1 conv on a few positions is one GEMM
(``_pointwise``); a 3×3 stride-1 conv with prepared
weights goes through Winograd instead (``winograd``), a depthwise one through ``depthwise``,
any other grouped one through ``grouped`` (one batched GEMM over the groups).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ...sizing import CHUNK_BYTES, channel_major, im2col_budget, taps_conv
from .arrays import Arena, Array, alloc, runs, scratch, strided_view, workers
from .chunks import (
    FOLD_RATIO,
    Epilogue,
    Pads,
    Pair,
    chunks,
    copy_columns,
    finish,
    flat,
    pad_nhwc,
    patches,
    prologue_into,
    rows_of_positions,
    window_count,
)
from .depthwise import depthwise2d
from .gemm import by_rows, gemm, owning
from .grouped import grouped_gemm2d
from .sharing import SHARED_BYTES, Finish, GemmShare, Share, shared, shares, within
from .taps import conv_taps
from .winograd import conv3x3_winograd

#: a 1×1 conv on at most this many positions (N·H·W) is one GEMM (``_pointwise``)
WHOLE_POSITIONS = 64
#: a conv whose im2col columns take at most this many bytes runs through ``_small``: one
#: copy of its columns and one GEMM, without the chunked path's Python (µs a call, 3×3 on
#: 1×2×2×32 → 32, its GEMM 4 µs: 81 chunked, 61 small; in cs231n-pattern's pass at batch 1
#: its 8×8×32 convs 0.16 → 0.12 ms). Processes alternating, median of 8 and 6 pairs, new ÷
#: old: cs231n-pattern b1 0.94, pattern-3x-conv-conv-pool b1 0.97 (this host is noisy:
#: single pairs 0.70–1.10)
SMALL_COLS_BYTES = 256 << 10
#: A conv on few input channels (a stem on RGB, LeNet's second conv) takes the common path:
#: OpenBLAS threads its GEMM of 27 to 363 columns unless a pass owns the threads. It used to
#: run alone on the calling thread, OpenBLAS on one, which an earlier host measured faster; on
#: this AMD EPYC host (2 vCPUs) OpenBLAS's threads won every stem, 2 threads, ms, median
#: wall time, OpenBLAS's threads / the engine's shares / alone (benchmarks/stems.py): 7×7 s2
#: 224×224×3 → 64 at batch 1 2.19/2.23/3.43, at 8 17.9/17.2/28.5; 11×11 s4 → 64 at 8
#: 10.0/10.1/15.9; 3×3 s2 → 32 at 8 5.00/7.02/6.40; 4×4 s4 → 96 at 8 2.87/4.66/4.30; 5×5 on
#: 8×32×32×3 → 32 0.70/1.04/0.96; none slower. Whole passes, processes alternating, median
#: of 7, new ÷ old: densenet121 b1 0.98, 0.97; resnet18 b1 0.96, 0.98, b8 0.96, 0.94;
#: alexnet b8 0.94, 0.90; mobilenet-v3-small and -large b1, cifar10-convnet and cs231n-pattern
#: b8 0.95–1.06
#: whether a conv shares its columns' copies and its epilogues between the engine's threads
#: while OpenBLAS threads its GEMMs (no pass owns the threads): no, they run on the calling
#: thread, as the element-wise kernels do then (``gemm.blas_holds``). OpenBLAS's workers spin
#: for a while after each GEMM on the core an engine thread would take, and each hand-off
#: wakes that thread: small convs lost (median µs of 150 calls, OpenBLAS's threads alone /
#: with the engine's shares, benchmarks/small_steps.py: 3×3 32 → 32 at 32×32, batch 1,
#: 325/459; 5×5 3 → 64 at 32×32, batch 8, 1073/1293). For big convs (shared from 2²⁶
#: multiply-adds before) the passes disagree on this noisy host, not shared ÷ shared, 2
#: threads: toggled in one process, googlenet b8 0.85 and 0.77, inception-v3 b1 0.80,
#: alexnet b8 0.74, 1.06 and 0.81, alexnet-torchvision b8 0.95 and 0.88, resnet50 b1 0.88,
#: unet b1 0.94, vgg16 b8 0.91 and 1.03, densenet121 b8 0.90 and 1.06; in processes
#: alternating, each pass the first after a pause, googlenet b8 1.01, inception-v3 b1 0.99,
#: alexnet b8 0.86, resnet50 b1 1.07, vgg16 b1 0.93, densenet121 b8 0.95, zfnet b8 0.92; but
#: benchmarks/small_steps.py --models (its first pass after 0.3 s) googlenet 1.06 and 1.08,
#: inception-v3 1.07 and 1.01, alexnet 0.88 and 1.05 at batch 1 and 8. No worse taken
#: together, and one rule for every kernel
SHARE_UNDER_BLAS = False


def conv2d(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    stride: Pair = (1, 1),
    pad: Pads = ((0, 0), (0, 0)),
    dilation: Pair = (1, 1),
    groups: int = 1,
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    chunk_bytes: int | None = None,
    winograd: Array | None = None,
    prologue: Sequence[Epilogue] = (),
    stacked: Array | None = None,
) -> Array:
    """Convolution, V[n,y,x,k] = sum(X[n, y*S+fy*d, x*S+fx*d, c in group(k)] * W_k) + b_k.

    x: (N, H, W, C); w: (FH, FW, C // groups, K); b: (K,) or None.
    Returns (N, Ho, Wo, K), Ho = (H + top + bottom − dy·(FH − 1) − 1) // sy + 1.
    ``winograd``: ``winograd_weights(w)``, to run a 3×3 stride-1 conv through Winograd.
    ``prologue``: in-place operations on each chunk of the input, (positions, C), before its
    GEMM (a pre-activation batch norm and ReLU); a 1×1 unpadded ungrouped conv only.
    ``stacked``: ``block_diagonal(w, groups, grouped_merge(...))`` of a grouped conv, if the
    caller prepared it.
    """
    if winograd is not None:
        if stride != (1, 1) or dilation != (1, 1) or groups != 1:  # w may be empty here
            raise ValueError("Winograd takes 3×3 convolutions of stride 1, ungrouped")
        return conv3x3_winograd(x, winograd, b, pad=pad, epilogue=epilogue, arena=arena)
    N, H, W, C = x.shape
    FH, FW, Cg, K = w.shape
    G = groups
    if Cg * G != C or K % G:
        raise ValueError(f"groups={G} does not fit {C} input and {K} output channels")
    pointwise = FH == FW == 1 and stride == (1, 1) and pad == ((0, 0), (0, 0)) and G == 1
    if prologue and not pointwise:
        raise ValueError("a prologue runs before a 1×1 unpadded ungrouped conv only")
    if G > 1:  # depthwise: direct; else one batched GEMM over the groups
        if Cg == 1:
            return depthwise2d(
                x, w, b, stride=stride, pad=pad, dilation=dilation, epilogue=epilogue,
                arena=arena, chunk_bytes=chunk_bytes,
            )  # fmt: skip
        return grouped_gemm2d(
            x, w, b, groups=G, stride=stride, pad=pad, dilation=dilation, epilogue=epilogue,
            arena=arena, chunk_bytes=chunk_bytes, stacked=stacked,
        )  # fmt: skip
    if pointwise and not prologue and N * H * W <= WHOLE_POSITIONS and rows_of_positions(x):
        return _pointwise(x, w.reshape(C, K), b, epilogue, arena)
    (t, bt), (lf, rt) = pad
    Ho = window_count(H, dilation[0] * (FH - 1) + 1, stride[0], t, bt, False)
    Wo = window_count(W, dilation[1] * (FW - 1) + 1, stride[1], lf, rt, False)
    pads = (t + bt, lf + rt)
    if not prologue and taps_conv((H, W), C, K, (FH, FW), stride, G, pads):
        return conv_taps(x, w, b, pad=pad, dilation=dilation, out_hw=(Ho, Wo),
                         epilogue=epilogue, arena=arena)  # fmt: skip
    J = FH * FW * Cg
    major = channel_major(FW, Cg, G, stride, pointwise)  # columns (c, fy, fx), from (C, N, H, W)
    wmat = (w.transpose(2, 0, 1, 3) if major else w).reshape(J, K)  # (FH*FW*C, K)
    direct = pointwise and rows_of_positions(x)  # a 1×1 conv is one GEMM on x itself
    padded = t or bt or lf or rt
    # few taps, many positions: the bias rides in the GEMM as one more column of ones
    fold = b is not None and not direct and N * Ho * Wo > J * FOLD_RATIO
    if fold:
        assert b is not None
        wmat = np.concatenate([wmat, b.reshape(1, K).astype(wmat.dtype)])
    Jc = J + fold
    small = N * Ho * Wo * J * x.itemsize <= SMALL_COLS_BYTES and chunk_bytes is None
    if small and not pointwise and not major:  # a caller's chunk_bytes asks for chunks
        return _small(x, wmat, None if fold else b, (FH, FW), stride, pad, dilation,
                      (Ho, Wo), epilogue, arena)  # fmt: skip
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    if chunk_bytes is None:
        chunk_bytes = im2col_budget(Jc, K, x.itemsize)
    row_bytes = Wo * (max(C, K) if direct else Jc + K) * x.itemsize
    share = workers()  # 1 in a step run alone (``gemm.alone``)
    if share > 1 and not owning() and not SHARE_UNDER_BLAS:
        share = 1  # OpenBLAS threads the GEMM, and the copies and epilogues stay here
    for images, rows in chunks(N, Ho, row_bytes, chunk_bytes):
        n = images.stop - images.start
        M = n * (rows.stop - rows.start) * Wo
        y = out[images, rows]  # (n, rows, Wo, K)
        R = rows.stop - rows.start
        if direct:
            a = x[images, rows].reshape(M, C)
            if prologue:  # into a chunk of scratch, transformed there while in cache
                pre = scratch(arena, "pre", (M, C), x.dtype)
                a = prologue_into(pre, a, (images, rows), prologue)
            if share > 1 and y.nbytes >= SHARED_BYTES and by_rows(M, share):  # one hand-off
                after = Finish(y, images, rows, b, epilogue).run
                shared(GemmShare(None, a, wmat, flat(y), after).run, shares(n, R, Wo, share))
                continue
            gemm(a, wmat, flat(y))
            if share > 1 and y.nbytes >= SHARED_BYTES and (epilogue or b is not None):
                shared(Finish(y, images, rows, b, epilogue).run, shares(n, R, Wo, share))
            else:
                finish(y, (images, rows), b, epilogue)
            continue
        if rows.start == 0:  # a new group of images: pad it once
            if major:  # padded into a (C, n, Hp, Wp) buffer, seen as (n, Hp, Wp, C)
                shape = (C, n, H + t + bt, W + lf + rt)
                chw = scratch(arena, "pad", shape, x.dtype).transpose(1, 2, 3, 0)
                xp = pad_nhwc(x[images], pad, out=chw)
                taps = patches(xp, (FH, FW), stride, dilation, (Ho, Wo))
                view = taps.transpose(5, 3, 4, 0, 1, 2)  # (C, FH, FW, n, Ho, Wo)
            else:
                if padded:
                    shape = (n, H + t + bt, W + lf + rt, C)
                    xp = pad_nhwc(x[images], pad, out=scratch(arena, "pad", shape, x.dtype))
                else:
                    xp = x[images]
                view = _patch_rows(xp, (FH, FW), stride, dilation, (Ho, Wo))
        if major:  # (C, FH, FW, n, rows, Wo) into the rows of (FH*FW*C [+ 1], n*rows*Wo)
            v = view[:, :, :, :, rows]
            cols = scratch(arena, "cols", (Jc, M), x.dtype).T
        else:  # (n, rows, Wo, FH, FW, C) or its rows as runs into (n*rows*Wo, FH*FW*C [+ 1])
            v = view[:, rows]
            cols = scratch(arena, "cols", (M, Jc), x.dtype)
        copy = _Columns(v, cols, J, fold, images, rows, prologue, major).run
        if share == 1 or cols.nbytes < SHARED_BYTES:  # all on this thread
            copy((slice(0, n), slice(0, R), slice(0, M)))
            gemm(cols, wmat, flat(y))
            finish(y, (images, rows), None if fold else b, epilogue)
            continue
        parts = shares(n, R, Wo, share)
        after = Finish(y, images, rows, None if fold else b, epilogue).run
        if by_rows(M, share):  # each share's columns, GEMM and epilogues in one hand-off
            shared(GemmShare(copy, cols, wmat, flat(y), after).run, parts)
            continue
        shared(copy, parts)
        gemm(cols, wmat, flat(y))  # BLAS threads it
        shared(after, parts)
    return out


def _small(
    x: Array,
    wmat: Array,
    b: Array | None,
    size: Pair,
    stride: Pair,
    pad: Pads,
    dilation: Pair,
    out_hw: Pair,
    epilogue: Sequence[Epilogue],
    arena: Arena | None,
) -> Array:
    """A conv whose im2col columns fit in ``SMALL_COLS_BYTES``: its columns copied in one go,
    one GEMM (``gemm``: shared only while a pass owns the threads), its epilogues after it;
    none of the chunks, budgets and shares of a big one. ``wmat`` is ``conv2d``'s, with the
    bias as its last row where ``conv2d`` folds it (``b`` is None then): the columns get
    their column of ones, the same workspace as the chunked path's."""
    N, H, W, C = x.shape
    (t, bt), (lf, rt) = pad
    Ho, Wo = out_hw
    out = alloc(arena, (N, Ho, Wo, wmat.shape[1]), x.dtype)
    if t or bt or lf or rt:
        shape = (N, H + t + bt, W + lf + rt, C)
        xp = pad_nhwc(x, pad, out=scratch(arena, "pad", shape, x.dtype))
    else:
        xp = x
    M, J = N * Ho * Wo, size[0] * size[1] * C
    cols = scratch(arena, "cols", (M, wmat.shape[0]), x.dtype)
    copy_columns(cols[:, :J], _patch_rows(xp, size, stride, dilation, out_hw))
    if wmat.shape[0] > J:  # the bias's row
        cols[:, J] = 1
    gemm(cols, wmat, flat(out))
    finish(out, (slice(0, N), slice(0, Ho)), b, epilogue)
    return out


def _pointwise(
    x: Array, w: Array, b: Array | None, epilogue: Sequence[Epilogue], arena: Arena | None
) -> Array:
    """A 1×1 conv on a few positions (squeeze-and-excitation's on 1×1 volumes, EfficientNet's
    last stage on 7×7): one GEMM on x itself and its epilogues, without the chunks, budgets
    and shares of a big one, whose Python cost (some 8 µs a call) is several times the GEMM's
    here. ``gemm`` still shares a large one (7×7×192 → 1152, 10.8 million multiply-adds)
    between the threads while a pass owns them (OpenBLAS on one then): processes alternating,
    median of 7, new ÷ old, efficientnet-b0 b1 0.97, mnasnet1-0 b1 0.95, mobilenet-v2 b1
    0.98. Its epilogues shared by rows as well gained nothing more (1.03, 1.05, 1.01)."""
    N, H, W, C = x.shape
    out = alloc(arena, (N, H, W, w.shape[1]), x.dtype)
    # rows_of_positions vouches for the view as flat() does, in a third of its time
    y = out.reshape(N * H * W, w.shape[1]) if rows_of_positions(out) else flat(out)
    gemm(x.reshape(N * H * W, C), w, y)
    finish(out, (slice(0, N), slice(0, H)), b, epilogue)
    return out


def _patch_rows(xp: Array, size: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> Array:
    """The im2col patches of ``xp`` (``chunks.patches``), (n, Ho, Wo, FH, FW, C); where a
    patch's row is one run of FW·C values in ``xp`` (undilated across, channels contiguous),
    those rows as single elements instead, (n, Ho, Wo, FH, 1) (``arrays.runs``): NumPy then
    copies a row at a time, not a run of C values at a time, up to 2× faster for few channels
    and never slower (see ``runs``)."""
    s0, s1, s2, s3 = xp.strides
    C = xp.shape[3]
    if dilation[1] != 1 or s3 != xp.itemsize or s2 != C * s3:
        return patches(xp, size, stride, dilation, out_hw)
    (FH, FW), (sy, sx) = size, stride
    shape = (xp.shape[0], out_hw[0], out_hw[1], FH, FW * C)
    return runs(strided_view(xp, shape, (s0, sy * s1, sx * s2, dilation[0] * s1, s3)))


class _Columns(NamedTuple):
    """A chunk's im2col copy, a share at a time (see ``sharing.shares``), or all of it."""

    view: Array  # (n, rows, Wo, FH, FW, C), the patches of the chunk, or (..., FH, 1) rows
    cols: Array  # (n·rows·Wo, J [+ 1])
    J: int
    fold: bool  # a column of ones for the bias after the J columns
    images: slice
    rows: slice
    prologue: Sequence[Epilogue]
    major: bool = False  # view (C, FH, FW, n, rows, Wo), cols the transpose of (J [+ 1], M)

    def run(self, part: Share) -> None:
        i, r, m = part
        cols = self.cols[m]
        v = self.view[:, :, :, i, r] if self.major else self.view[i, r]
        copy_columns(cols.T[: self.J] if self.major else cols[:, : self.J], v)
        if self.fold:
            cols[:, self.J] = 1
        region = (within(self.images, i), within(self.rows, r))
        for op in self.prologue:  # a 1×1 unpadded conv: the columns are the input's values
            op(cols[:, : self.J], region)


def local2d(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    stride: Pair = (1, 1),
    pad: Pads = ((0, 0), (0, 0)),
    dilation: Pair = (1, 1),
    groups: int = 1,
    arena: Arena | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Array:
    """Locally connected: a conv whose filters differ at every output position.

    x: (N, H, W, C); w: (Ho, Wo, FH, FW, C // groups, K); b: (Ho, Wo, K) or None.
    """
    N, H, W, _ = x.shape
    Ho, Wo, FH, FW, Cg, K = w.shape
    G, Kg = groups, K // groups
    (t, bt), (lf, rt) = pad
    ho = window_count(H, dilation[0] * (FH - 1) + 1, stride[0], t, bt, False)
    wo = window_count(W, dilation[1] * (FW - 1) + 1, stride[1], lf, rt, False)
    if (ho, wo) != (Ho, Wo):
        raise ValueError(f"LOCAL weights are for {Ho}x{Wo} outputs, the input gives {ho}x{wo}")
    xp = pad_nhwc(x, pad) if t or bt or lf or rt else x
    view = patches(xp, (FH, FW), stride, dilation, (Ho, Wo))
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    J = FH * FW * Cg
    wp = w.reshape(Ho * Wo, J, K)  # (Ho*Wo, FH*FW*Cg, K)
    for _, rows in chunks(1, Ho, N * Wo * J * x.itemsize, chunk_bytes):
        P = (rows.stop - rows.start) * Wo
        for g in range(G):
            vg = view[:, rows, :, :, :, g * Cg : (g + 1) * Cg]  # (N, rows, Wo, FH, FW, Cg)
            cols = np.ascontiguousarray(vg.reshape(N, P, J).transpose(1, 0, 2))  # (P, N, J)
            wg = wp[rows.start * Wo : rows.stop * Wo, :, g * Kg : (g + 1) * Kg]  # (P, J, Kg)
            yg = np.matmul(cols, wg)  # (P, N, Kg)
            out[:, rows, :, g * Kg : (g + 1) * Kg] = yg.transpose(1, 0, 2).reshape(
                N, rows.stop - rows.start, Wo, Kg
            )
    if b is not None:
        out += b
    return out


def conv_transpose2d(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    stride: Pair = (1, 1),
    pad: Pair = (0, 0),
    out_pad: Pair = (0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    arena: Arena | None = None,
) -> Array:
    """Transposed convolution: every input value adds W·x into an FH×FW window of the output.

    x: (N, H, W, C); w: (C, FH, FW, K // groups); b: (K,) or None.
    Returns (N, Ho, Wo, K), Ho = (H − 1)·sy − 2·py + dy·(FH − 1) + 1 + out_pad_y.
    """
    N, H, W, C = x.shape
    _, FH, FW, Kg = w.shape
    G = groups
    Cg, K = C // G, Kg * G
    (sy, sx), (dy, dx) = stride, dilation
    Hf = (H - 1) * sy + dy * (FH - 1) + 1 + out_pad[0]
    Wf = (W - 1) * sx + dx * (FW - 1) + 1 + out_pad[1]
    Ho, Wo = Hf - 2 * pad[0], Wf - 2 * pad[1]
    if Ho < 1 or Wo < 1:
        raise ValueError(f"TCONV output {Ho}x{Wo} is below 1")
    full = np.zeros((N, Hf, Wf, K), x.dtype)
    x2 = x.reshape(N * H * W, C)  # (N*H*W, C)
    for g in range(G):
        wg = w[g * Cg : (g + 1) * Cg].reshape(Cg, FH * FW * Kg)  # (Cg, FH*FW*Kg)
        part = np.empty((N * H * W, FH * FW * Kg), np.result_type(x, w))
        cols = gemm(x2[:, g * Cg : (g + 1) * Cg], wg, part).reshape(N, H, W, FH, FW, Kg)
        for fy in range(FH):
            for fx in range(FW):
                ys = slice(fy * dy, fy * dy + (H - 1) * sy + 1, sy)
                xs = slice(fx * dx, fx * dx + (W - 1) * sx + 1, sx)
                full[:, ys, xs, g * Kg : (g + 1) * Kg] += cols[:, :, :, fy, fx]
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    out[...] = full[:, pad[0] : pad[0] + Ho, pad[1] : pad[1] + Wo]
    if b is not None:
        out += b
    return out
