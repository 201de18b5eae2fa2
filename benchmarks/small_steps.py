"""Small conv steps on two threads or alone on one (``kernels.gemm.alone``), to place
``gemm.SOLO_MACS`` and choose ``conv.SHARE_UNDER_BLAS``: where waking OpenBLAS's threads and
handing shares to the engine's cost more than they save.

For each conv (the small volumes of the CIFAR patterns, LeNet, the CIFAR-10 convnet and the
1×1 convs of squeeze-and-excitation blocks), in one process, alternating: ``shares``
(OpenBLAS's threads and the engine's shares of copies and epilogues, as every step ran
before ``SOLO_MACS`` and ``conv.SHARE_UNDER_BLAS``), ``blas`` (OpenBLAS's threads, no engine
share), ``alone`` (one thread), then which the engine picks now and its median over that of
``shares``. Each call follows a pause
(``--pause``, default 1 ms, so that the other threads are idle as they are between the
layers of a small pass), and the best and the median wall time of --runs calls are printed
in µs, with the ratio of the medians.

With ``--models a,b``, whole passes instead (``forward``, batches ``--batches``), in one
process, alternating: ``before`` (no step alone, every conv's chunks shared, a 1×1 conv on a
few positions through the chunked path: as the pass ran before these thresholds),
``shared`` (as now, but every conv's chunks shared while OpenBLAS threads the GEMMs) and
``now``; the best and the median of ``seconds`` over --runs passes, each after ``--pause``,
and the ratios of the medians.

    python benchmarks/small_steps.py [--runs 300] [--pause 0.001] [--threads 2]
        [--models cs231n-pattern,lenet5 --batches 1,8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

#: (batch, H, W, C, K, F): F×F stride 1, padded to keep the size
SHAPES = [
    (1, 1, 1, 96, 24, 1), (1, 1, 1, 240, 960, 1), (8, 1, 1, 576, 144, 1),
    (1, 32, 32, 3, 32, 3), (1, 8, 8, 32, 32, 3), (1, 16, 16, 32, 32, 3), (1, 32, 32, 32, 32, 3),
    (8, 8, 8, 32, 32, 3), (8, 16, 16, 32, 32, 3), (4, 32, 32, 32, 32, 3),
    (8, 32, 32, 32, 32, 3), (1, 14, 14, 6, 16, 5), (8, 14, 14, 6, 16, 5),
    (1, 32, 32, 3, 64, 5), (8, 32, 32, 3, 64, 5), (8, 16, 16, 64, 64, 5),
]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--pause", type=float, default=0.001)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="", help="whole passes of these specs instead")
    ap.add_argument("--batches", default="1,8")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "CONVCALC_THREADS"):
        os.environ[var] = str(args.threads)
    if args.models:
        for name in args.models.split(","):
            for batch in map(int, args.batches.split(",")):
                _passes(name, batch, args.runs, args.pause)
        return 0
    print(f"{'batch×H×W×C → K, F':26s} {'MMACs':>7s}  best/median µs: shares | blas | alone"
          "   the engine's pick ÷ shares")  # fmt: skip
    for shape in SHAPES:
        _measure(shape, args.runs, args.pause)
    return 0


def _measure(shape: tuple[int, ...], runs: int, pause: float) -> None:
    import numpy as np

    from convcalc.engine import kernels as K
    from convcalc.engine.kernels import conv
    from convcalc.engine.kernels import gemm as G

    n, h, w, c, k, f = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, c), dtype=np.float32)
    wt = rng.standard_normal((f, f, c, k), dtype=np.float32)
    b = rng.standard_normal(k, dtype=np.float32)
    arena = K.Arena()
    arena.reserve(64 << 20)
    p = f // 2
    macs = n * h * w * f * f * c * k

    def run() -> None:
        arena.begin(0)
        K.conv2d(x, wt, b, pad=((p, p), (p, p)), epilogue=(K.RELU,), arena=arena)

    def mode(name: str) -> Callable[[], None]:
        """Starts the mode; returns what ends it."""
        saved = conv.SHARE_UNDER_BLAS, G.SOLO_MACS
        conv.SHARE_UNDER_BLAS = name != "blas"
        G.SOLO_MACS = macs + 1 if name == "alone" else 0
        end = G.alone(macs)

        def restore() -> None:
            end()
            conv.SHARE_UNDER_BLAS, G.SOLO_MACS = saved

        return restore

    picks = "alone" if macs < G.SOLO_MACS else "shares" if conv.SHARE_UNDER_BLAS else "blas"
    times: dict[str, list[float]] = {m: [] for m in ("shares", "blas", "alone")}
    for i in range(runs + 1):
        for m in list(times) if i % 2 else list(times)[::-1]:
            end = mode(m)
            time.sleep(pause)
            start = time.perf_counter()
            run()
            took = time.perf_counter() - start
            end()
            if i:
                times[m].append(took * 1e6)
    cells = " | ".join(f"{min(t):6.0f}/{statistics.median(t):6.0f}" for t in times.values())
    ratio = statistics.median(times[picks]) / statistics.median(times["shares"])
    print(f"{f'{n}×{h}×{w}×{c} → {k}, {f}×{f}':26s} {macs / 1e6:7.2f}  {cells}   {picks} "
          f"{ratio:.2f}", flush=True)  # fmt: skip


def _passes(name: str, batch: int, runs: int, pause: float) -> None:
    import convcalc
    from convcalc.engine.forward import forward
    from convcalc.engine.kernels import conv
    from convcalc.engine.kernels import gemm as G

    analysis = convcalc.analyze(convcalc.load(name))
    now = G.SOLO_MACS, conv.SHARE_UNDER_BLAS, conv.WHOLE_POSITIONS
    modes = {"before": (0, True, 0), "shared": (now[0], True, now[2]), "now": now}
    times: dict[str, list[float]] = {m: [] for m in modes}
    for i in range(runs + 1):
        for m in list(modes) if i % 2 else list(modes)[::-1]:
            G.SOLO_MACS, conv.SHARE_UNDER_BLAS, conv.WHOLE_POSITIONS = modes[m]
            time.sleep(pause)
            took = forward(analysis, batch=batch, trace_memory=False).seconds
            if i:
                times[m].append(took * 1e3)
    G.SOLO_MACS, conv.SHARE_UNDER_BLAS, conv.WHOLE_POSITIONS = now
    cells = " | ".join(f"{m} {min(t):7.3f}/{statistics.median(t):7.3f}" for m, t in times.items())
    mid = {m: statistics.median(t) for m, t in times.items()}
    print(f"{name:26s} batch {batch}: best/median ms {cells}   now ÷ before "
          f"{mid['now'] / mid['before']:.2f}, ÷ shared {mid['now'] / mid['shared']:.2f}",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
