"""Time and peak memory of every invalid-spec case (tests/data/invalid/*.yaml) through the CLI.

Each case runs in-process as `convcalc check CASE` (convcalc.cli.main, SystemExit caught, output
discarded): one untimed warm-up pass over the corpus, then --runs timed passes (the median per
case is reported), then one pass under tracemalloc for the peak of Python allocations per case.
Prints the slowest cases, the maximum time and peak, and any case that did not exit 1.

Target: every case under 1 s.

Run: `python benchmarks/invalid_corpus.py [--runs N] [--top N]`
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import tracemalloc
from pathlib import Path

from convcalc.cli import main as cli_main

TARGET_S = 1.0
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "invalid"


def check(path: Path) -> int | str | None:
    """`convcalc check path` in-process; returns the exit code, discards the output."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            cli_main(["check", str(path)])
        except SystemExit as exc:
            return exc.code
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed passes (median per case)")
    parser.add_argument("--top", type=int, default=5, help="how many of the slowest to show")
    args = parser.parse_args()

    cases = sorted(CORPUS.glob("*.yaml"))
    if not cases:
        raise SystemExit(f"no cases in {CORPUS}")
    codes = {path: check(path) for path in cases}  # warm-up: imports, caches
    times: dict[Path, list[float]] = {path: [] for path in cases}
    for _ in range(args.runs):
        for path in cases:
            start = time.perf_counter()
            check(path)
            times[path].append(time.perf_counter() - start)
    median = {path: statistics.median(t) for path, t in times.items()}

    peak: dict[Path, int] = {}
    tracemalloc.start()
    for path in cases:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        check(path)
        peak[path] = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()

    print(f"{len(cases)} cases in {CORPUS}, median of {args.runs} runs each")
    print(f"\nslowest {args.top}:")
    print(f"  {'case':<40} {'median ms':>10} {'peak KiB':>9} {'exit':>5}")
    for path in sorted(cases, key=median.__getitem__, reverse=True)[: args.top]:
        print(
            f"  {path.name:<40} {median[path] * 1e3:>10.1f} {peak[path] / 1024:>9.0f} "
            f"{codes[path]!s:>5}"
        )
    slowest = max(cases, key=median.__getitem__)
    biggest = max(cases, key=peak.__getitem__)
    print(f"\nmax time: {median[slowest] * 1e3:.1f} ms ({slowest.name})")
    print(f"max peak: {peak[biggest] / 1024:.0f} KiB of Python allocations ({biggest.name})")
    print(f"total of medians: {sum(median.values()):.3f} s")
    odd = [f"{path.name} -> {codes[path]}" for path in cases if codes[path] != 1]
    print(f"cases not exiting 1: {', '.join(odd) if odd else 'none'}")
    over = [path.name for path in cases if median[path] >= TARGET_S]
    verdict = "every case under" if not over else f"OVER in {', '.join(over)}:"
    print(f"target: {verdict} {TARGET_S} s")


if __name__ == "__main__":
    main()
