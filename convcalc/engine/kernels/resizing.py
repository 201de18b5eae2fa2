"""Kernels that reshape the volume without a window: global average pooling, fully connected,
a linear layer at every position, nearest-neighbour upsampling, and the channel kernels: a
slice, a shuffle."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...sizing import CACHE_BYTES, im2col_budget
from .arrays import Arena, Array, alloc, scratch
from .chunks import Epilogue, chunks, finish, prologue_into
from .gemm import gemm


def global_avg_pool(x: Array) -> Array:
    """(N, H, W, C) -> (N, 1, 1, C), the mean over height and width.

    In float32 and float64, a GEMV of 1/(H·W) against each image's (H·W, C) view (BLAS reads
    the input once, in its own dtype: 7× faster than a float64 mean at 8×56×56×96, and as
    exact as PyTorch's float32 sum); float16, which BLAS lacks, sums in float64."""
    N, H, W, C = x.shape
    if x.dtype not in (np.float32, np.float64) or not x.flags.c_contiguous:
        out: Array = x.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(x.dtype)
        return out
    weights = np.full(H * W, 1.0 / (H * W), x.dtype)
    mean: Array = np.matmul(weights, x.reshape(N, H * W, C))
    return mean.reshape(N, 1, 1, C)


#: an FC with at most this many outputs, on a batch of 2 or more, splits long inputs (below)
FC_SPLIT_OUTPUTS = 64
#: ... into pieces of this many inputs
FC_SPLIT = 4096


def fully_connected(
    x: Array, w: Array, b: Array | None = None, *, epilogue: Sequence[Epilogue] = ()
) -> Array:
    """Affine layer on the flattened input: x (N, H, W, C), w (K, H*W*C) -> (N, 1, 1, K).

    The input flattens in (H, W, C) order; w is stored (K, D) as PyTorch stores it. A few
    outputs of a long input on a small batch (pattern-conv-fc: 10 of 32,768 at batch 8) run as
    a sum of GEMMs over ``FC_SPLIT`` inputs at a time: OpenBLAS takes 0.29 ms for the one
    10×32768×8 product and 0.08 ms for its eight pieces.
    """
    N = x.shape[0]
    x2 = x.reshape(N, -1)  # (N, H*W*C)
    K, D = w.shape
    if x2.shape[1] != D:
        raise ValueError(f"FC weights take {D} inputs, the input has {x2.shape[1]}")
    if 2 <= N <= 32 and K <= FC_SPLIT_OUTPUTS and D > FC_SPLIT:
        y = np.matmul(w[:, :FC_SPLIT], x2[:, :FC_SPLIT].T)  # (K, N)
        part = np.empty_like(y)
        for s in range(FC_SPLIT, D, FC_SPLIT):
            np.matmul(w[:, s : s + FC_SPLIT], x2[:, s : s + FC_SPLIT].T, out=part)
            y += part
        y = y.T
    else:
        y = (
            gemm(w, x2.T, np.empty((K, N), np.result_type(w, x2))).T
            if N <= 32
            else gemm(x2, w.T, np.empty((N, K), np.result_type(w, x2)))
        )  # (N, K)
    out = np.ascontiguousarray(y).reshape(N, 1, 1, K)
    finish(out, (slice(0, N), slice(0, 1)), b, epilogue)
    return out


def linear(
    x: Array,
    w: Array,
    b: Array | None = None,
    *,
    epilogue: Sequence[Epilogue] = (),
    arena: Arena | None = None,
    chunk_bytes: int = CACHE_BYTES,
    prologue: Sequence[Epilogue] = (),
    bias_column: bool = False,
) -> Array:
    """The same affine map at every position: x (N, H, W, C), w (K, C) -> (N, H, W, K).

    One GEMM over the (N·H·W, C) rows, a chunk of images or output rows at a time, with the
    epilogues on each chunk while it is in cache; w is stored (K, C) as PyTorch's Linear.
    ``prologue``: in-place operations on a copy of each chunk of the input, (positions, C),
    before its GEMM (a layer norm's normalisation, its γ and β folded into ``w`` and ``b``);
    its chunks are then a 1×1 conv's, the size ``sizing.prologue_bytes`` reserves.
    ``bias_column``: w is (K, C + 1), its last column the bias, which the GEMM adds against a
    column of ones after each prologue chunk (``plan.bias_column``): no pass over the output
    on the calling thread to add it (convnext-tiny, processes alternating, ÷ a bias pass:
    batch 8 0.98–0.99 in three pairs, batch 1 0.94–1.02 in five); ``b`` is then None."""
    N, H, W, C = x.shape
    K = w.shape[0]
    if bias_column and (not prologue or b is not None):
        raise ValueError("a bias column comes with a prologue and instead of a bias")
    if w.shape[1] != C + bias_column:
        raise ValueError(f"LINEAR weights take {w.shape[1]} channels, the input has {C}")
    out = alloc(arena, (N, H, W, K), x.dtype)
    if prologue:
        row_bytes, chunk_bytes = W * max(C, K) * x.itemsize, im2col_budget(C, K, x.itemsize)
    else:
        row_bytes = W * (C + K) * x.itemsize
    for images, rows in chunks(N, H, row_bytes, chunk_bytes):
        y = out[images, rows]
        a = x[images, rows].reshape(-1, C)
        if prologue:  # into a chunk of scratch, transformed there while in cache
            pre = scratch(arena, "pre", (a.shape[0], C + bias_column), x.dtype)
            if bias_column:
                pre[:, C] = 1
            prologue_into(pre[:, :C], a, (images, rows), prologue)
            a = pre
        # its epilogues (ConvNeXt's GELU) thread themselves: a share of the GEMM and of them in
        # one hand-off (``sharing.GemmShare``, as conv2d does) was 9% slower here, and the
        # bias, GELU, layer scale and ADD shared by rows after the GEMM (``sharing.Finish``)
        # 6% slower (ConvNeXt-Tiny at batch 8, 2 threads, alternating processes: 795 → 845 ms)
        gemm(a, w.T, y.reshape(-1, K))
        finish(y, (images, rows), b, epilogue)
    return out


def upsample_nearest(x: Array, n: int) -> Array:
    """(N, H, W, C) -> (N, H*n, W*n, C), every value repeated n×n times."""
    N, H, W, C = x.shape
    out = np.empty((N, H * n, W * n, C), x.dtype)
    out.reshape(N, H, n, W, n, C)[...] = x[:, :, None, :, None, :]
    return out


def channel_slice(x: Array, start: int, stop: int) -> Array:
    """Channels start .. stop − 1 of (N, H, W, C): a view, as PyTorch's x[:, start:stop]."""
    return x[..., start:stop]


def channel_shuffle(x: Array, groups: int, arena: Arena | None = None) -> Array:
    """PyTorch's channel_shuffle: the channels as (groups, C/groups), transposed, so that
    output channel i·groups + g is input channel g·(C/groups) + i (a new array).

    One copy a group, each reading its C/groups channels as contiguous runs and writing them
    every ``groups``-th channel: 7× faster than one transposed copy, whose inner loop is only
    ``groups`` long (shufflenet-v2's 8×28×28×116: 0.28 ms instead of 2.0)."""
    N, H, W, C = x.shape
    out = alloc(arena, x.shape, x.dtype)
    dst = out.reshape(N * H * W, C // groups, groups)
    src = x.reshape(N * H * W, groups, C // groups)
    for g in range(groups):
        dst[:, :, g] = src[:, g]
    return out
