"""What the kernel benchmarks share: the best or the median of a few timed calls.

Imported by the scripts next to it (``python benchmarks/<script>.py`` puts this folder first on
the module path).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(f: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """The wall and CPU seconds of each of ``runs`` calls of ``f``, after one call that warms
    it up (allocations, caches, BLAS threads)."""
    f()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        f()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def best(f: Callable[[], object], runs: int) -> tuple[float, float]:
    """The smallest wall and CPU seconds of ``runs`` calls of ``f`` (``timed``)."""
    wall, cpu = timed(f, runs)
    return min(wall), min(cpu)


def median(f: Callable[[], object], runs: int) -> tuple[float, float]:
    """The median wall and CPU seconds of ``runs`` calls of ``f`` (``timed``)."""
    wall, cpu = timed(f, runs)
    return statistics.median(wall), statistics.median(cpu)
