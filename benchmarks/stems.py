"""Where a conv on few input channels (a stem on RGB) spends its time, and how its threads
compare (the measurement in ``kernels.conv``, beside ``WHOLE_POSITIONS``).

For each stem of the bundled specs, at batch 1 and 8: on one thread, the padding, the im2col
copy, the GEMM (its GFLOP/s) and a ReLU over the output, each alone; then the whole
``conv2d`` with its bias and ReLU at --threads threads, alternating in one process:
OpenBLAS threading the GEMM (``CONVCALC_BLAS=blas``), the engine's threads sharing each
chunk's copy, GEMM and epilogues with OpenBLAS on one (``shared``: a pass that owns the
threads), and the calling thread alone with OpenBLAS on one (``alone``: as a step of
fewer than ``gemm.SOLO_MACS`` runs, ``gemm.alone``).
Figures are medians of --runs calls, in ms (wall time; CPU time after the slash).

    python benchmarks/stems.py [--runs 9] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial

from timing import median

#: (name, height = width, channels in, out, filter, stride, padding)
STEMS = [
    ("efficientnet/mobilenet", 224, 3, 32, 3, 2, 1),
    ("resnet/densenet", 224, 3, 64, 7, 2, 3),
    ("alexnet", 224, 3, 64, 11, 4, 2),
    ("convnext", 224, 3, 96, 4, 4, 0),
    ("cifar 3×3", 32, 3, 64, 3, 1, 1),
    ("cifar10-convnet", 32, 3, 32, 5, 1, 2),
    ("lenet5 conv2", 14, 6, 16, 5, 1, 0),
]


def _median(f: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``runs`` calls (``timing.median``)."""
    wall, cpu = median(f, runs)
    return wall * 1e3, cpu * 1e3


def _table(measure: Callable[..., str], runs: int) -> None:
    """One line for each stem at batch 1 and 8: ``measure(n, h, c, k, f, s, p, runs)``."""
    for name, h, c, k, f, s, p in STEMS:
        for n in (1, 8):
            found = measure(n, h, c, k, f, s, p, runs)
            print(f"{name:<22} {n} {h}x{h}x{c}->{k} {f}x{f} s{s}  {found}", flush=True)


def _split(n: int, h: int, c: int, k: int, f: int, s: int, p: int, runs: int) -> str:
    """The parts of one stem, each alone on one thread."""
    import numpy as np

    from convcalc.engine.kernels.arrays import positive
    from convcalc.engine.kernels.chunks import pad_nhwc, patches

    rng = np.random.default_rng(0)
    x = rng.random((n, h, h, c), dtype=np.float32)
    w = rng.random((f * f * c + 1, k), dtype=np.float32)
    ho = (h + 2 * p - f) // s + 1
    pads = ((p, p), (p, p))
    xp = np.empty((n, h + 2 * p, h + 2 * p, c), np.float32)
    view = patches(pad_nhwc(x, pads, out=xp), (f, f), (s, s), (1, 1), (ho, ho))
    cols = np.ones((n * ho * ho, f * f * c + 1), np.float32)
    y = np.empty((n * ho * ho, k), np.float32)
    times = {
        "pad": _median(lambda: pad_nhwc(x, pads, out=xp), runs)[0],
        "copy": _median(lambda: np.copyto(cols[:, :-1].reshape(view.shape), view), runs)[0],
        "GEMM": _median(lambda: np.matmul(cols, w, out=y), runs)[0],
        "ReLU": _median(lambda: positive(y, y), runs)[0],  # the engine's ReLU
    }
    gflops = 2 * cols.size * k / times["GEMM"] / 1e6
    cells = "  ".join(f"{part} {ms:6.3f}" for part, ms in times.items())
    return f"{cells}  (GEMM {gflops:3.0f} GFLOP/s)"


def _ab(n: int, h: int, c: int, k: int, f: int, s: int, p: int, runs: int) -> str:
    """The whole conv of one stem, alternating: OpenBLAS's threads, the engine's sharing
    each chunk (as in a pass that owns the threads), and alone on the calling thread."""
    import numpy as np

    from convcalc.engine import kernels as K

    rng = np.random.default_rng(0)
    x = rng.random((n, h, h, c), dtype=np.float32)
    w = rng.random((f, f, c, k), dtype=np.float32) - 0.5
    b = rng.random(k, dtype=np.float32)
    arena = K.Arena()
    arena.reserve(64 << 20)

    from convcalc.engine.kernels import gemm

    def run(mode: str) -> None:
        os.environ["CONVCALC_BLAS"] = "blas" if mode == "blas" else "auto"
        restore = lambda: None  # noqa: E731
        if mode == "shared":
            restore = gemm.own_threads(0, force=True)
        elif mode == "alone":  # as the largest step that runs alone: OpenBLAS on one thread
            restore = gemm.alone(gemm.SOLO_MACS - 1)
        try:
            arena.begin()
            K.conv2d(x, w, b, stride=(s, s), pad=((p, p), (p, p)), epilogue=[K.RELU],
                     arena=arena)  # fmt: skip
        finally:
            restore()

    found: dict[str, list[tuple[float, float]]] = {"blas": [], "shared": [], "alone": []}
    for _ in range(3):  # alternating rounds: a busy neighbour slows both alike
        for mode, times in found.items():
            times.append(_median(partial(run, mode), runs))
            time.sleep(0.1)  # OpenBLAS's idle threads spin for a while
    return "  ".join(f"{mode} {min(t[0] for t in ts):7.3f}/{min(t[1] for t in ts):7.3f}"
                     for mode, ts in found.items())  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=("parts", "whole"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _table(_split if args.child == "parts" else _ab, args.runs)
        return 0
    for child, t in (("parts", 1), ("whole", args.threads)):
        print(f"{child}: {t} thread(s), ms, median of {args.runs}"
              + ("" if child == "parts" else " (best round of 3), wall/CPU"))  # fmt: skip
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(t), "CONVCALC_THREADS": str(t)}
        cmd = [sys.executable, __file__, "--child", child, "--runs", str(args.runs)]
        subprocess.run(cmd, env=env, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
