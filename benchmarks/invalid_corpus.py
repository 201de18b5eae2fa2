"""Time and peak memory of every invalid-spec case (tests/data/invalid/*.yaml) through the CLI.

Each case runs in-process as `convcalc check CASE` (convcalc.cli.main, SystemExit caught, output
discarded): one untimed warm-up pass over the corpus, then --runs timed passes (the median per
case is reported), then one pass under tracemalloc for the peak of Python allocations per case.
Prints the slowest cases, the maximum time and peak, and any case that did not exit 1.

Then each case runs once more in a fresh process, `python -m convcalc check CASE` (output to
/dev/null), spawned by a small launcher whose os.wait4 gives that child's own peak resident set
size (ru_maxrss) and its wall time, interpreter start-up included: the worst of each is printed
(--no-rss skips this pass).

Target: every case under 1 s, and under 200 MB of peak RSS in a fresh process.

Run: `python benchmarks/invalid_corpus.py [--runs N] [--top N] [--no-rss]`
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from convcalc.cli import main as cli_main

TARGET_S = 1.0
TARGET_RSS_MB = 200
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


#: Spawns one command with stdout/stderr to /dev/null and prints its peak RSS (KiB), wall time
#: and exit code. A child's ru_maxrss counts the memory it had before exec, which a fork (or
#: vfork) of this process shares with this process: measured from here, every case would show
#: at least this benchmark's own RSS. Spawned from this small `python -S` launcher instead, the
#: floor is the launcher's ~10 MB, far below any convcalc run.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=null)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, time.perf_counter() - start, os.waitstatus_to_exitcode(status))
"""


def fresh_process(path: Path) -> tuple[int, float, int]:
    """`python -m convcalc check path` in a new process: (peak RSS in bytes, wall seconds,
    exit code), as the launcher measures them."""
    command = [sys.executable, "-m", "convcalc", "check", str(path)]
    result = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    kib, seconds, code = result.stdout.split()
    return int(kib) * 1024, float(seconds), int(code)  # ru_maxrss is in KiB on Linux


def report_fresh(cases: list[Path], top: int) -> None:
    """Peak RSS and wall time of a fresh process per case; the worst of each."""
    rss: dict[Path, int] = {}
    wall: dict[Path, float] = {}
    codes: dict[Path, int] = {}
    for path in cases:
        rss[path], wall[path], codes[path] = fresh_process(path)
    mib = 1024 * 1024
    print(f"\nfresh process per case (`{Path(sys.executable).name} -m convcalc check CASE`):")
    print(f"  {'case':<40} {'peak RSS MiB':>12} {'wall ms':>8} {'exit':>5}")
    for path in sorted(cases, key=rss.__getitem__, reverse=True)[:top]:
        print(
            f"  {path.name:<40} {rss[path] / mib:>12.1f} {wall[path] * 1e3:>8.0f} {codes[path]:>5}"
        )
    biggest = max(cases, key=rss.__getitem__)
    slowest = max(cases, key=wall.__getitem__)
    print(f"worst peak RSS: {rss[biggest] / mib:.1f} MiB ({biggest.name})")
    print(f"worst fresh-process time: {wall[slowest]:.3f} s ({slowest.name}, start-up included)")
    print(f"median fresh-process time: {statistics.median(wall.values()):.3f} s")
    over = sorted({p.name for p in cases if rss[p] >= TARGET_RSS_MB * 1e6 or wall[p] >= TARGET_S})
    verdict = "every case under" if not over else f"OVER in {', '.join(over)}:"
    print(f"target: {verdict} {TARGET_RSS_MB} MB and {TARGET_S} s in a fresh process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed passes (median per case)")
    parser.add_argument("--top", type=int, default=5, help="how many of the slowest to show")
    parser.add_argument(
        "--no-rss", action="store_true", help="skip the fresh-process peak RSS pass"
    )
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
    if not args.no_rss:
        report_fresh(cases, args.top)


if __name__ == "__main__":
    main()
