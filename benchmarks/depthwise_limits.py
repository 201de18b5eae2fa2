"""How fast a depthwise conv can go in NumPy: the engine's kernel against its inner loop's
ceiling and against the GEMM formulation, one thread, CPU time.

``depthwise2d`` sums the F·F taps of each band of output rows with one ``np.einsum`` a stride
phase (out += x·w over Wb·K values at a time, per tap: ``sizing.depthwise_block``). Printed
for every depthwise shape of the bundled mobile specs and ConvNeXt-Tiny, at batch 1 and 8:

- ``kernel``: ``depthwise2d``'s best CPU time and useful GFLOP/s (2·F·F·Ho·Wo·K·N);
- ``einsum``: the GFLOP/s of that einsum alone on one band already in cache (the same taps
  and tiled weights, no copy in, no bias, no Python around it): the ceiling of this design,
  as no cutting of the bands makes the inner loop faster;
- ``gemm``: the other formulation, per channel a banded Toeplitz matrix and small batched
  ``np.matmul`` calls (``toeplitz_depthwise`` below, B = 8 output columns a GEMM row), in
  useful GFLOP/s; and the GFLOP/s its GEMMs do counting the Toeplitz zeros (Wb/F times the
  useful work, 2× for 7×7) and the copies channel-first and back.

Correctness first: the GEMM form must equal ``depthwise2d`` (checked before it is timed).
torch's figures for the same shapes: ``benchmarks/grouped_kernels.py --torch --only dw``.

    python benchmarks/depthwise_limits.py [--runs 5] [--only 7x7,5x5]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from timing import best

#: (input size, channels, filter size, stride), padding F // 2: the depthwise convs of
#: convnext-tiny, efficientnet-b0, mnasnet1-0, mobilenet-v2 and mobilenet-v3-large/small
SHAPES = [
    (56, 96, 7, 1), (28, 192, 7, 1), (14, 384, 7, 1), (7, 768, 7, 1),
    (28, 240, 5, 1), (14, 480, 5, 1), (14, 672, 5, 1), (7, 1152, 5, 1),
    (56, 144, 5, 2), (14, 672, 5, 2),
    (112, 32, 3, 1), (56, 144, 3, 1), (28, 192, 3, 1), (14, 384, 3, 1), (7, 960, 3, 1),
    (112, 96, 3, 2), (56, 144, 3, 2), (14, 576, 3, 2),
]  # fmt: skip
BLOCK = 8


def _cpu(f: Callable[[], object], runs: int) -> float:
    return best(f, runs)[1]


def _kernel(K: Any, x: Any, w: Any, stride: Any, pads: Any, arena: Any) -> None:
    arena.give(K.depthwise2d(x, w, None, stride=stride, pad=pads, arena=arena))


def toeplitz_depthwise(np: Any, x: Any, w: Any, p: int, s: int, block: int) -> tuple[Any, int]:
    """The depthwise conv (square filter F, padding p, stride s) as per-channel GEMMs against
    a banded Toeplitz matrix, and the multiply-adds those GEMMs do. A block of B output
    columns reads Wb = (B − 1)·s + F input columns of its F rows; T (F·Wb × B) holds
    w[fy, fx] at (fy, x'·s + fx, x'). The rows of A must not overlap (BLAS asks lda ≥ K), so
    each GEMM takes the output rows of one residue modulo G = ⌈F/s⌉, G·s ≥ F rows apart, from
    the input copied channel first in column blocks P[c, n, j, row, u]."""
    from numpy.lib.stride_tricks import as_strided

    N, H, W, C = x.shape
    F = w.shape[0]
    Ho, Wo = (H + 2 * p - F) // s + 1, (W + 2 * p - F) // s + 1
    B = min(block, Wo)
    Wb, G, nb = (B - 1) * s + F, -(-F // s), -(-Wo // B)
    m = -(-((Ho - 1) * s + F) // (G * s))
    Hb = m * G * s
    t = np.zeros((C, F, Wb, B), x.dtype)
    for xo in range(B):
        t[:, :, xo * s : xo * s + F, xo] = w[:, :, 0, :].transpose(2, 0, 1)
    T = t.reshape(C, F * Wb, B)
    flat = np.zeros(C * N * nb * Hb * Wb + Wb * F, x.dtype)
    P = flat[: C * N * nb * Hb * Wb].reshape(C, N, nb, Hb, Wb)
    src = x[:, : Hb - p].transpose(3, 0, 1, 2)
    rows = src.shape[2]
    for j in range(nb):
        u0 = j * B * s - p
        a, e = max(0, u0), min(W, u0 + Wb)
        if a < e:
            P[:, :, j, p : p + rows, a - u0 : e - u0] = src[..., a:e]
    M = N * nb * m
    sums = np.empty((C, M, G, B), x.dtype)
    z = x.itemsize
    for r in range(G):
        strides = (N * nb * Hb * Wb * z, G * s * Wb * z, z)
        A = as_strided(flat[r * s * Wb :], (C, M, F * Wb), strides)
        np.matmul(A, T, out=sums[:, :, r, :])
    Y = sums.reshape(C, N, nb, m * G, B)
    out = np.empty((N, Ho, Wo, C), x.dtype)
    for j in range(nb):
        wide = min(B, Wo - j * B)
        out[:, :, j * B : j * B + wide] = Y[:, :, j, :Ho, :wide].transpose(1, 2, 3, 0)
    return out, C * M * G * F * Wb * B


def einsum_ceiling(np: Any, K: Any, x: Any, w: Any, p: int, s: int, runs: int) -> float:
    """GFLOP/s of ``depthwise2d``'s einsum on one band of its own size, already in cache."""
    from numpy.lib.stride_tricks import as_strided

    from convcalc.sizing import depthwise_band, depthwise_block

    N, H, W, C = x.shape
    F = w.shape[0]
    Ho, Wo = (H + 2 * p - F) // s + 1, (W + 2 * p - F) // s + 1
    n, R = depthwise_band(N, Ho, Wo, C, x.itemsize, 1)
    Q = Wo + (F - 1) // s  # one stride phase, as the kernel lays it out
    taps_n = len(range(0, F, s))
    Wb = depthwise_block(Wo, C, s)  # the weights tiled along Wb columns, as the kernel does
    nb, Lb = Wo // Wb, Wb * C
    band = np.ones((n, (R - 1) * s + F, Q, C), x.dtype)
    tiled = np.ones((F, taps_n, Lb), x.dtype)
    wt = as_strided(tiled, (F, taps_n, nb, Lb), (*tiled.strides[:2], 0, tiled.strides[2]))
    out = np.empty((n, R, nb, Lb), x.dtype)
    s0, s1, s2, s3 = band.strides
    view = as_strided(band, (F, taps_n, n, R, nb, Lb), (s1, s2, s0, s * s1, Wb * s2, s3))
    seconds = _cpu(lambda: np.einsum("ftnrbi,ftbi->nrbi", view, wt, out=out), runs)
    return 2 * F * taps_n * n * R * Wo * C / seconds / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated filters, e.g. 7x7,5x5")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "CONVCALC_THREADS"):
        os.environ[var] = "1"
    import numpy as np

    from convcalc.engine import kernels as K

    only = [o for o in args.only.split(",") if o]
    rng = np.random.default_rng(0)
    print("one thread, CPU time; GFLOP/s useful unless said (2·F·F·Ho·Wo·K·N)")
    print(f"{'shape':<22}{'batch':>6}{'kernel ms':>11}{'GF/s':>7}{'einsum GF/s':>13}"
          f"{'gemm ms':>9}{'GF/s':>7}{'with zeros':>12}")  # fmt: skip
    for size, c, f, s in SHAPES:
        name = f"{size}×{size}×{c} {f}x{f} s{s}"
        if only and not any(o in name for o in only):
            continue
        for batch in (1, 8):
            x = rng.standard_normal((batch, size, size, c), dtype=np.float32)
            w = rng.standard_normal((f, f, 1, c), dtype=np.float32)
            p = f // 2
            pads = ((p, p), (p, p))
            ref = K.depthwise2d(x, w, None, stride=(s, s), pad=pads)
            got, gemm_macs = toeplitz_depthwise(np, x, w, p, s, BLOCK)
            if not np.allclose(got, ref, rtol=1e-4, atol=1e-3):
                print(f"{name}: the GEMM form differs from depthwise2d", file=sys.stderr)
                return 1
            useful = 2 * f * f * ref.size
            kernel = _cpu(partial(_kernel, K, x, w, (s, s), pads, K.Arena()), args.runs)
            ceiling = einsum_ceiling(np, K, x, w, p, s, args.runs)
            gemm = _cpu(partial(toeplitz_depthwise, np, x, w, p, s, BLOCK), args.runs)
            print(f"{name:<22}{batch:>6}{kernel * 1e3:>11.3f}{useful / kernel / 1e9:>7.1f}"
                  f"{ceiling:>13.1f}{gemm * 1e3:>9.3f}{useful / gemm / 1e9:>7.1f}"
                  f"{2 * gemm_macs / gemm / 1e9:>12.1f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
