"""Pooling over windows: max, average and L2, separable (rows, then columns); adaptive pooling
to a fixed output size over PyTorch's bins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...sizing import POOL_BAND_BYTES
from .arrays import Arena, Array, alloc, scratch
from .chunks import Pads, Pair, pad_nhwc, window_count


def pool2d(
    x: Array,
    size: Pair,
    *,
    stride: Pair,
    pad: Pads = ((0, 0), (0, 0)),
    kind: str = "max",
    ceil: bool = False,
    arena: Arena | None = None,
) -> Array:
    """Max, average or L2 pooling over FH×FW windows; depth unchanged.

    avg divides by the window's cells inside the padded input (PyTorch's count_include_pad);
    l2 is sqrt(sum x²) over the window (PyTorch's LPPool2d(2)). Padding is never the max.
    """
    N, H, W, C = x.shape
    (FH, FW), (sy, sx) = size, stride
    (t, bt), (lf, rt) = pad
    Ho = window_count(H, FH, sy, t, bt, ceil)
    Wo = window_count(W, FW, sx, lf, rt, ceil)
    # ceil windows may run past the padding: pad that far too (never read as a value)
    eb = max(0, (Ho - 1) * sy + FH - (H + t + bt))
    er = max(0, (Wo - 1) * sx + FW - (W + lf + rt))
    full = ((t, bt + eb), (lf, rt + er))
    fill = -np.inf if kind == "max" else 0.0
    if any(full[0]) or any(full[1]):
        shape = (N, H + t + bt + eb, W + lf + rt + er, C)
        xp = pad_nhwc(x, full, fill, out=scratch(arena, "pool", shape, x.dtype))
    else:
        xp = x
    out = alloc(arena, (N, Ho, Wo, C), x.dtype)
    op = np.maximum if kind == "max" else np.add
    if kind == "l2":
        xp = np.square(xp)
    # separable: the window's rows first, into a band of rows that stays in cache, then its
    # columns: FH + FW passes instead of FH·FW (VGG16 pool1: 2.8 ms instead of 4.7)
    Wp = xp.shape[2]
    band = min(Ho, max(1, POOL_BAND_BYTES // (N * Wp * C * x.itemsize)))
    rows_of = scratch(arena, "pool_rows", (N, band, Wp, C), x.dtype)
    for r0 in range(0, Ho, band):
        r1 = min(Ho, r0 + band)
        t_ = rows_of[:, : r1 - r0]
        _reduce(op, [xp[:, r0 * sy + fy : (r1 - 1) * sy + fy + 1 : sy] for fy in range(FH)], t_)
        taps = [t_[:, :, fx : fx + (Wo - 1) * sx + 1 : sx] for fx in range(FW)]
        _reduce(op, taps, out[:, r0:r1])
    if kind == "avg" and not eb and not er:  # every window inside the padded input
        out /= x.dtype.type(FH * FW)
    elif kind == "avg":
        hp, wp = H + t + bt, W + lf + rt
        cy = np.minimum(np.arange(Ho) * sy + FH, hp) - np.arange(Ho) * sy
        cx = np.minimum(np.arange(Wo) * sx + FW, wp) - np.arange(Wo) * sx
        out /= (cy[:, None] * cx[None, :])[:, :, None].astype(x.dtype)
    elif kind == "l2":
        np.sqrt(out, out=out)
    return out


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins along one axis: bin i spans floor(i·size/out) up to
    ceil((i + 1)·size/out), exclusive; neighbours overlap when out does not divide size."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_pool2d(x: Array, out: Pair, kind: str = "avg", arena: Arena | None = None) -> Array:
    """Average or max over each bin of an (OH, OW) grid of bins (PyTorch's
    adaptive_avg_pool2d and adaptive_max_pool2d), separable: the bins' rows first, then
    their columns (a mean of equal-length row means is the bin's mean)."""
    N, H, W, C = x.shape
    (OH, OW) = out
    reduce = np.max if kind == "max" else np.mean
    rows = np.empty((N, OH, W, C), x.dtype)
    for i, (a, b) in enumerate(adaptive_bins(H, OH)):
        reduce(x[:, a:b], axis=1, out=rows[:, i])
    y = alloc(arena, (N, OH, OW, C), x.dtype)
    for j, (a, b) in enumerate(adaptive_bins(W, OW)):
        reduce(rows[:, :, a:b], axis=2, out=y[:, :, j])
    return y


def _reduce(op: Any, parts: Sequence[Array], out: Array) -> None:
    """out = op(op(parts[0], parts[1]), ...) with no pass to spare."""
    if len(parts) == 1:
        np.copyto(out, parts[0])
        return
    op(parts[0], parts[1], out=out)
    for part in parts[2:]:
        op(out, part, out=out)
