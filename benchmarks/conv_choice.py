"""The algorithms an ungrouped CONV can run through, timed on the shapes where NumPy trails
torch most (DenseNet's 128 → 32 3×3, the stems, Inception's 1×7/7×1), at 1 and 2 threads.

For each shape: im2col + GEMM (``kernels.conv2d``), Winograd F(2×2) and F(4×4) where the
conv is 3×3 stride 1, and which one ``kernels.winograd_tile`` picks now. Each thread count
runs in a process of its own (OpenBLAS reads its thread count once, at import); each
figure is the best of --runs calls, wall time and the process's CPU time. On a busy machine
the 2-thread figures mean little: BLAS threads spin while their partner waits for a core
(DenseNet-121's few-output convs took 8× their one-thread CPU time at 2 threads, load 5).

    python benchmarks/conv_choice.py [--runs 7] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence

from timing import best

#: (batch, height = width, channels in, out, filter (height, width), stride, padding)
SHAPES = [(n, h, 128, 32, (3, 3), 1, (1, 1)) for n in (1, 8) for h in (56, 28, 14, 7)] + [
    (8, 224, 3, 32, (3, 3), 2, (1, 1)),  # efficientnet, mobilenet stems
    (8, 227, 3, 96, (11, 11), 4, (0, 0)),  # alexnet-caffe
    (8, 224, 3, 64, (7, 7), 2, (3, 3)),  # resnet, densenet
    (8, 17, 128, 128, (1, 7), 1, (0, 3)),  # inception-v3
    (8, 17, 192, 192, (7, 1), 1, (3, 0)),
    (8, 35, 48, 64, (5, 5), 1, (2, 2)),
]


def _best(f: Callable[[], object], runs: int) -> tuple[float, float]:
    wall, cpu = best(f, runs)
    return wall * 1e3, cpu * 1e3


def _one(shape: tuple[int, int, int, int, tuple[int, int], int, tuple[int, int]], runs: int) -> str:
    import numpy as np

    from convcalc.engine import kernels as K

    n, h, c, k, f, s, p = shape
    rng = np.random.default_rng(0)
    x = rng.random((n, h, h, c), dtype=np.float32)
    w = rng.random((*f, c, k), dtype=np.float32) - 0.5
    b = rng.random(k, dtype=np.float32)
    arena = K.Arena()
    arena.reserve(64 << 20)
    pad = ((p[0], p[0]), (p[1], p[1]))
    found = {"im2col": _best(lambda: K.conv2d(x, w, b, stride=(s, s), pad=pad, arena=arena), runs)}
    now = "im2col"
    if f == (3, 3) and s == 1:
        for m in (2, 4):
            u = K.winograd_weights(w, m)

            def run(u: object = u) -> object:
                return K.conv2d(x, w[:0], b, pad=pad, winograd=u, arena=arena)  # type: ignore[arg-type]

            found[f"F({m}x{m})"] = _best(run, runs)
        if m := K.winograd_tile(n, h, h, c):
            now = f"F({m}x{m})"
    cells = "  ".join(f"{name} {wall:7.2f}/{cpu:7.2f}" for name, (wall, cpu) in found.items())
    return f"{n:>2} {h:>3}x{h:<3} {c:>3}->{k:<3} {f[0]}x{f[1]} s{s}  now {now:<7} {cells}"


def _child(runs: int) -> None:
    for shape in SHAPES:
        print(_one(shape, runs), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.runs)
        return 0
    for t in args.threads:
        print(f"{t} thread(s): ms, wall/CPU, best of {args.runs}")
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(t), "CONVCALC_THREADS": str(t)}
        cmd = [sys.executable, __file__, "--child", "--runs", str(args.runs)]
        subprocess.run(cmd, env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
