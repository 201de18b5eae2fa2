"""A stride-1 conv with few outputs as one GEMM over its taps, then shifted sums.

im2col gives a GEMM of FH·FW·C columns and K outputs; with K small (DenseNet's 3×3 convs,
128 → 32) OpenBLAS runs it well below its peak (6272 positions × 1152 → 32: about 100
GFLOP/s on two threads here, against 150 with 128 → 32 or 170 with 128 → 288), after a copy of
FH·FW times the input. Here the input itself is the GEMM's left matrix, no copy: Z = X ·
[W(0,0) … W(FH−1,FW−1)], (positions, C) × (C, FH·FW·K), every tap's product at every input
position, and each tap's slice of Z, shifted by its offset, is summed into the output:
V[y, x] = Σ Z[y + fy·d − top, x + fx·d − left, (fy, fx)] over the taps whose position is in
the input (the padding adds nothing). The same multiply-adds as im2col (Z's positions are the
input's, as many as the output's under "same" padding), a GEMM of a good shape, and FH·FW − 1
additions over the output.

The work comes in units of whole images (a unit's Z about ``sizing.TAPS_UNIT_VALUES``),
shared between the engine's threads a unit at a time; each unit's bias and epilogues run right
after its sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...sizing import taps_units
from .arrays import Arena, Array, alloc, scratch, spread, workers
from .chunks import Epilogue, Pads, Pair, finish, rows_of_positions
from .gemm import gemm


def conv_taps(
    x: Array,
    w: Array,
    b: Array | None,
    *,
    pad: Pads,
    dilation: Pair,
    out_hw: Pair,
    epilogue: Sequence[Epilogue],
    arena: Arena | None,
) -> Array:
    """conv2d of stride 1 by the taps' GEMM and shifted sums; x (N, H, W, C), copied first
    unless it has rows of positions (``rows_of_positions``); w (FH, FW, C, K)."""
    N, H, W, C = x.shape
    FH, FW, _, K = w.shape
    (t, _), (lf, _) = pad
    Ho, Wo = out_hw
    dy = [fy * dilation[0] - t for fy in range(FH)]
    dx = [fx * dilation[1] - lf for fx in range(FW)]
    wall = np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(C, FH * FW * K)
    out = alloc(arena, (N, Ho, Wo, K), x.dtype)
    if not rows_of_positions(x):
        x = np.ascontiguousarray(x)
    g = taps_units(N, H, W, FH * FW, K)
    units = [slice(i, min(N, i + g)) for i in range(0, N, g)]
    share = min(workers(), len(units))
    cuts = [len(units) * i // share for i in range(share + 1)]
    zs = [scratch(arena, f"taps{k}", (g * H * W, FH * FW * K), x.dtype) for k in range(share)]
    # channels of a wider array (a CAT's output): the sums go to a buffer of their own,
    # then once into the output with the epilogues done
    apart = not out.flags.c_contiguous
    sums = [scratch(arena, f"sums{k}", (g, Ho, Wo, K), x.dtype) for k in range(share * apart)]
    rows = slice(0, Ho)

    def run(k: int) -> None:
        for images in units[cuts[k] : cuts[k + 1]]:
            n = images.stop - images.start
            o = sums[k][:n] if apart else out[images]
            _unit(x[images], wall, o, dy, dx, zs[k], share == 1)
            finish(o, (images, rows), b, epilogue)
            if apart:
                np.copyto(out[images], o)

    spread(run, share)
    return out


def _unit(
    x: Array, wall: Array, o: Array, dy: list[int], dx: list[int], zbuf: Array, alone: bool
) -> None:
    """o = the sum of the taps' shifted products on the images x, Z computed into ``zbuf``
    (by ``gemm``, which shares it between the engine's threads, when this is the only unit);
    the first tap that covers the whole output is copied, not added to zeros."""
    n, H, W, C = x.shape
    _, Ho, Wo, K = o.shape
    FH, FW = len(dy), len(dx)
    z = zbuf[: n * H * W]
    (gemm if alone else np.matmul)(x.reshape(-1, C), wall, out=z)
    z6 = z.reshape(-1, H, W, FH, FW, K)
    pieces: list[tuple[Array, Array]] = []
    for fy, oy in enumerate(dy):  # output rows y whose input row y + oy is in the input
        y0, y1 = max(0, -oy), min(Ho, H - oy)
        for fx, ox in enumerate(dx):
            x0, x1 = max(0, -ox), min(Wo, W - ox)
            if y0 < y1 and x0 < x1:
                src = z6[:, y0 + oy : y1 + oy, x0 + ox : x1 + ox, fy, fx]
                pieces.append((o[:, y0:y1, x0:x1], src))
    whole = next((i for i, (dst, _) in enumerate(pieces) if dst.shape == o.shape), None)
    if whole is None:
        o.fill(0)
    else:
        np.copyto(o, pieces.pop(whole)[1])
    for dst, src in pieces:
        np.add(dst, src, out=dst)
