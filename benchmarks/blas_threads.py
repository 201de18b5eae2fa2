"""The forward pass with the engine owning its threads (``CONVCALC_BLAS=engine``: OpenBLAS on
one thread, every GEMM shared by the engine's threads) against OpenBLAS threading each GEMM
itself (``CONVCALC_BLAS=blas``), in one NumPy process, rounds alternating between the two
(``auto``, the default, picks one by the pass's size: ``gemm.OWN_THREADS_MACS``).

The switch is read at each pass, so both run in the same warm process on the same machine
load (with a pause before each pass: see ``PAUSE``). Printed: per spec and batch, the median
step-time sum of each and their ratio; then the time by layer type summed over every spec and
batch. Threads: --threads (CONVCALC_THREADS and
OPENBLAS_NUM_THREADS are set to it before NumPy loads).

    python benchmarks/blas_threads.py [--threads 2] [--runs 5] [--models a,b] [--batches 1,8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

MODES = ("blas", "engine")
#: before every pass: OpenBLAS's idle workers spin for a while after their last GEMM and would
#: take a core from the next pass, whichever mode it runs in
PAUSE = 0.3


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", default="convnext-tiny,efficientnet-b0,mobilenet-v2,resnet50")
    ap.add_argument("--batches", default="1,8")
    args = ap.parse_args()
    for var in ("CONVCALC_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import convcalc
    from convcalc.engine.forward import forward
    from convcalc.engine.kernels.gemm import openblas

    if openblas() is None:
        print("OpenBLAS not found: both modes run the same way")
    by_type: dict[str, dict[str, float]] = {m: defaultdict(float) for m in MODES}
    total = dict.fromkeys(MODES, 0.0)
    print(f"threads {args.threads}; median of {args.runs} rounds, seconds of the steps")
    print(f"{'model':<22}{'batch':>6}{'blas s':>10}{'engine s':>10}{'ratio':>8}")
    for name in args.models.split(","):
        analysis = convcalc.analyze(convcalc.load(name))
        for batch in (int(b) for b in args.batches.split(",")):
            times: dict[str, list[float]] = {m: [] for m in MODES}
            layers: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
            for r in range(args.runs + 1):
                for mode in MODES if r % 2 else MODES[::-1]:
                    os.environ["CONVCALC_BLAS"] = mode
                    time.sleep(PAUSE)
                    result = forward(analysis, batch=batch, trace_memory=False)
                    if r == 0:
                        continue  # warm-up
                    times[mode].append(result.seconds)
                    kinds: dict[str, float] = defaultdict(float)
                    for rec in result.layers:
                        kinds[rec.type] += rec.seconds
                    layers[mode].append(kinds)
            med = {m: statistics.median(times[m]) for m in MODES}
            for m in MODES:
                total[m] += med[m]
                for kind in layers[m][0]:
                    by_type[m][kind] += statistics.median(k[kind] for k in layers[m])
            ratio = med["engine"] / med["blas"]
            print(f"{name:<22}{batch:>6}{med['blas']:>10.4f}{med['engine']:>10.4f}{ratio:>8.2f}")
    print(f"{'all':<28}{total['blas']:>10.4f}{total['engine']:>10.4f}"
          f"{total['engine'] / total['blas']:>8.2f}")  # fmt: skip
    print("\nby layer type (a fused step counts under its head)")
    for kind in sorted(by_type["blas"], key=lambda k: -by_type["blas"][k]):
        b, e = by_type["blas"][kind], by_type["engine"][kind]
        if b > 0:
            print(f"{kind:<28}{b:>10.4f}{e:>10.4f}{e / b:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
