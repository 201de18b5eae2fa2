"""What the kernel benchmarks share: the best of a few timed calls.

Imported by the scripts next to it (``python benchmarks/<script>.py`` puts this folder first on
the module path).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best(f: Callable[[], object], runs: int) -> tuple[float, float]:
    """The smallest wall and CPU seconds of ``runs`` calls of ``f``, after one call that
    warms it up (allocations, caches, BLAS threads)."""
    f()
    wall = cpu = float("inf")
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        f()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu
