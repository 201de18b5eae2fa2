"""`convcalc run`'s measured peak against its own estimate, for every bundled spec.

For each spec (or those named) at batch 1 and 8: the peak tracemalloc measures during the
forward pass (``ForwardResult.measured_peak_bytes``) divided by the pass's estimate of what it
holds (``ForwardResult.estimate.total``: weights, the planned activation region, the other
live arrays and the largest step's workspace). The process's fixed overhead (the interpreter,
NumPy's own allocations before the pass) is outside both figures: tracemalloc starts with the
pass. Each spec runs in a process of its own, so that one spec's freed memory does not count
in the next one's peak.

Goal: within ±15% for every spec and batch.

    python benchmarks/run_peak.py [--batches 1 8] [vgg16 resnet50 ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence


def _one(name: str, batches: Sequence[int]) -> None:
    import convcalc
    from convcalc.engine.forward import forward

    analysis = convcalc.analyze(convcalc.load(name))
    for batch in batches:
        result = forward(analysis, batch=batch, max_memory=16 << 30)
        measured, estimated = result.measured_peak_bytes, result.estimate.total
        print(f"{name:<22} {batch:>5} {measured / 2**20:>12.2f} {estimated / 2**20:>12.2f} "
              f"{measured / estimated:>7.3f}", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", help="bundled names (default: every one)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _one(args.specs[0], args.batches)
        return 0
    from convcalc.frontend.bundled import names

    print(f"{'spec':<22} {'batch':>5} {'measured MB':>12} {'estimate MB':>12} {'ratio':>7}")
    worst = 0.0
    for name in args.specs or names():
        command = [sys.executable, __file__, "--child", name,
                   "--batches", *map(str, args.batches)]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        print(out.stdout, end="", flush=True)
        for line in out.stdout.splitlines():
            worst = max(worst, abs(float(line.split()[-1]) - 1))
        if out.returncode:
            print(f"{name}: failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
            worst = max(worst, 1.0)
    print(f"largest deviation: {worst:.1%} ({'within' if worst <= 0.15 else 'outside'} ±15%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
