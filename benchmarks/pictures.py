"""CPU time of `convcalc draw` on a 1,000-layer spec (target under 1 s) and of `convcalc report`
on ResNet-152 (target under 2 s).

Two figures for each: in-process (load, analyze, lay out and render; the median of --runs
runs, by time.process_time) and the whole command as a fresh process (interpreter start and
imports included; user + system CPU of the child, by resource.getrusage, the median of --runs).
The 1,000-layer spec is large_spec.py's explicit chain, INPUT -> CONV(16, F=3, P=1) -> RELU ->
... on 32x32x16, eight layers to a line; it is also drawn with --fold and --labels full.

Run: `python benchmarks/pictures.py [--runs N]`
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import convcalc
from convcalc.report import diagram, html, svg

LAYERS = 1_000
CONV = "CONV(16, F=3, P=1)"
DRAW_TARGET, REPORT_TARGET = 1.0, 2.0


def chain(n: int) -> str:
    layers = [CONV if i % 2 == 0 else "RELU" for i in range(n)]
    lines = [" -> ".join(layers[i : i + 8]) for i in range(0, n, 8)]
    return f"name: large-{n}\ninput: 32x32x16\narch: |\n  INPUT\n" + "".join(
        f"  -> {line}\n" for line in lines
    )


def cpu(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def process_cpu(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "convcalc", *args], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        spec = os.path.join(scratch, "large.yaml")
        with open(spec, "w", encoding="utf-8") as f:
            f.write(chain(LAYERS))
        rows = len(convcalc.analyze(convcalc.load(spec)).rows) - 1
        assert rows == LAYERS, rows

        def draw(fold: bool = False, labels: str = "shapes") -> str:
            result = convcalc.analyze(convcalc.load(spec))
            return svg.render(diagram.build(result, fold=fold), labels=labels)

        def report() -> str:
            result = convcalc.analyze(convcalc.load("resnet152"))
            picture = svg.render(diagram.build(result), standalone=False)
            return html.page(result, picture, budget=12 << 30)

        out = os.path.join(scratch, "out")
        figures = [
            (f"draw, {LAYERS:,} layers, in-process", cpu(draw, runs), DRAW_TARGET),
            (
                f"draw --fold --labels full, {LAYERS:,} layers, in-process",
                cpu(lambda: draw(True, "full"), runs),
                DRAW_TARGET,
            ),
            (
                f"convcalc draw, {LAYERS:,} layers, whole process",
                process_cpu(["draw", spec, "-o", out + ".svg"], runs),
                DRAW_TARGET,
            ),
            ("report resnet152, in-process", cpu(report, runs), REPORT_TARGET),
            (
                "convcalc report resnet152 --budget 12GiB, whole process",
                process_cpu(
                    ["report", "resnet152", "--budget", "12GiB", "-o", out + ".html"], runs
                ),
                REPORT_TARGET,
            ),
        ]
        size = os.path.getsize(out + ".html")
    print(f"CPU time, median of {runs} runs (resnet152's report: {size:,} bytes)")
    for label, seconds, target in figures:
        verdict = "ok" if seconds < target else "OVER"
        print(f"  {label:<58} {seconds:6.3f} s  (target {target:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
