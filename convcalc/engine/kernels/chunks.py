"""What the windowed kernels share: window counts, padding, the im2col view, and the pieces
their work is cut into, with what runs on each piece (epilogues).

Every pair here is (height, width), the order of the array axes. A chunk is (images, output
rows): whole images while one fits the budget, else a band of rows of one image, so that a
kernel's buffers stay a few MB whatever the batch or image size, and what follows the GEMM
(bias, a folded batch norm, an activation, a residual add) runs on each chunk while it is still
in cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ...sizing import largest_chunk
from .arrays import Array, positive, runs, strided_view

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))
#: Runs on one chunk of a conv's output, in place: (chunk, (images, rows)).
Epilogue = Callable[[Array, tuple[slice, slice]], None]

#: the bias becomes one more column of the GEMM when positions exceed this many × columns
FOLD_RATIO = 32


def window_count(size: int, f_eff: int, s: int, before: int, after: int, ceil: bool) -> int:
    """Windows along one axis: floor((W + 2P − F_eff)/S) + 1, or PyTorch's ceil_mode rule
    (ceil, minus a last window that would start in the padding after the input), under which
    one window may hang over an input smaller than it by less than the stride."""
    span = size + before + after - f_eff
    out = span // s + 1 if not ceil else -(-span // s) + 1
    if ceil and (out - 1) * s >= size + before:  # the last window would start in the padding
        out -= 1
    if out < 1:
        raise ValueError(f"a window of {f_eff} does not fit in {size} + {before + after}")
    return out


#: a padded buffer of at most this many bytes is filled whole before the input goes in: one
#: fill costs less than the four border fills there (µs, 1×4×4×32 padded by 1: 1.5 against
#: 5.0), which write the border only, as larger buffers are
PAD_FILL_BYTES = 64 << 10


def pad_nhwc(x: Array, pads: Pads, value: float = 0.0, out: Array | None = None) -> Array:
    """Pad height and width of (N, H, W, C) with ``value``; ``out`` may be a reused buffer."""
    N, H, W, C = x.shape
    (t, b), (lf, rt) = pads
    if out is None:
        out = np.empty((N, H + t + b, W + lf + rt, C), x.dtype)
    if (t or b or lf or rt) and out.nbytes <= PAD_FILL_BYTES:
        out.fill(value)
    elif t or b or lf or rt:  # the border only
        out[:, :t] = value
        out[:, t + H :] = value
        out[:, t : t + H, :lf] = value
        out[:, t : t + H, lf + W :] = value
    out[:, t : t + H, lf : lf + W] = x
    return out


def patches(xp: Array, size: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> Array:
    """The im2col matrix as a strided view: (N, Ho, Wo, FH, FW, C), no copy."""
    s0, s1, s2, s3 = xp.strides
    return strided_view(
        xp,
        (xp.shape[0], out_hw[0], out_hw[1], size[0], size[1], xp.shape[3]),
        (s0, stride[0] * s1, stride[1] * s2, dilation[0] * s1, dilation[1] * s2, s3),
    )


def copy_columns(cols: Array, taps: Array) -> None:
    """cols = the patches ``taps``, cols holding a patch's values in a row of its last axis:
    ``taps`` as ``patches`` (or a grouped kernel's ``_taps``) gives them, or with each patch
    row as one element (``arrays.runs``), copied a row at a time."""
    if taps.dtype.kind == "V":
        np.copyto(runs(cols.reshape(*taps.shape[:-1], -1)), taps)
    else:
        np.copyto(cols.reshape(taps.shape), taps)


def chunks(n: int, rows: int, row_bytes: int, budget: int) -> Iterator[tuple[slice, slice]]:
    """(images, output rows) pieces of about ``budget`` bytes (see ``largest_chunk``)."""
    g, band = largest_chunk(n, rows, row_bytes, budget)
    for n0 in range(0, n, g):
        for y0 in range(0, rows, band):
            yield slice(n0, min(n, n0 + g)), slice(y0, min(rows, y0 + band))


def rows_of_positions(x: Array) -> bool:
    """Whether (N, H, W, C) reads as a (N·H·W, C) matrix without a copy: C-contiguous, or the
    first channels of a wider such array (an input computed into a CAT's output)."""
    s0, s1, s2, s3 = x.strides
    _, H, W, C = x.shape
    return s3 == x.itemsize and s2 >= C * s3 and s1 == W * s2 and s0 == H * s1


def flat(y: Array) -> Array:
    """A chunk of output (n, rows, W, K) as the (n·rows·W, K) matrix a GEMM writes into: a
    view, never a copy (a chunk may be channels of a CAT's output, see ``plan.cat_views``):
    a view when it shares y's owner (NumPy points a view's base at the array that owns the
    memory; 0.6 µs), else when it starts where y does (5 µs)."""
    m = y.reshape(-1, y.shape[-1])
    if m.base is not None and m.base is (y if y.base is None else y.base):
        return m
    if m.size and m.__array_interface__["data"][0] != y.__array_interface__["data"][0]:
        raise ValueError("an output chunk that is no (positions, channels) matrix")
    return m


class _Relu:
    """The ReLU epilogue, as a value a kernel may recognise and apply on its way (Winograd
    applies it while copying its tiles out, saving a pass over the output)."""

    def __call__(self, y: Array, region: tuple[slice, slice]) -> None:
        positive(y, y)


RELU = _Relu()


def finish(
    y: Array, region: tuple[slice, slice], b: Array | None, epilogue: Sequence[Epilogue]
) -> None:
    if b is not None:
        np.add(y, b, out=y)
    for op in epilogue:
        op(y, region)


def prologue_into(
    pre: Array, a: Array, region: tuple[slice, slice], prologue: Sequence[Epilogue]
) -> Array:
    """``pre``: the chunk ``a`` of a GEMM's input, (positions, C), with the prologue applied.
    A first operation that can read ``a`` itself (it has an ``into(a, pre, region)``: the
    gate of a MUL, a layer norm) saves the copy into ``pre``."""
    into = getattr(prologue[0], "into", None)
    if into is not None:
        into(a, pre, region)
    else:
        np.copyto(pre, a)
        into = prologue[0]
        into(pre, region)
    for op in prologue[1:]:
        op(pre, region)
    return pre
