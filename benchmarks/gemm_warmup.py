"""How long a GEMM takes right after other work: the warm-up a pass's GEMMs pay on this host.

A forward pass in NumPy runs its GEMMs between copies (im2col) and element-wise passes
(epilogues) of a fraction of a millisecond to a few milliseconds each. This prints, for one
GEMM shape (by default cs231n-pattern's second conv at batch 8 by filter rows, 5440 × 96 × 96),
the median time of the first, second and third GEMM after a gap of G ms spent on other work,
against the same GEMM called back to back (gap 0). The gap is one of:

- ``spin``: pure Python on the calling thread (no memory traffic, no vector code);
- ``numpy``: NumPy element-wise multiplies on 16 KiB, in cache;
- ``sleep``: the thread asleep;
- ``gemm``: small GEMMs (64 × 64 × 64) in cache, which keep the GEMM warm.

With ``--torch``, torch.mm in a process of its own does the same (torch imported beside NumPy
slows NumPy; see ``forward_vs_torch.py``). One or two threads: ``--threads``.

    python benchmarks/gemm_warmup.py [--threads 1] [--shape 5440,96,96] [--torch]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

GAPS_MS = (0.0, 0.2, 0.5, 1.0, 2.0, 5.0)
KINDS = ("spin", "numpy", "sleep", "gemm")


def _gap(kind: str, ms: float, small: Callable[[], Any], tiny: Callable[[], Any]) -> None:
    """Spend ``ms`` milliseconds on ``kind`` of work."""
    end = time.perf_counter() + ms / 1e3
    if kind == "sleep":
        if ms > 0:
            time.sleep(ms / 1e3)
        return
    while time.perf_counter() < end:
        if kind == "numpy":
            for _ in range(20):
                tiny()
        elif kind == "gemm":
            small()
        else:
            for _ in range(200):
                pass


def measure(
    lib: str, shape: tuple[int, int, int], rounds: int
) -> dict[tuple[str, float], list[float]]:
    """{(kind, gap ms): median ms of the 1st, 2nd and 3rd GEMM after the gap}."""
    M, K, N = shape
    if lib == "torch":
        import torch

        torch.manual_seed(0)
        a, b, o = torch.randn(M, K), torch.randn(K, N), torch.empty(M, N)
        s1, s2, so = torch.randn(64, 64), torch.randn(64, 64), torch.empty(64, 64)
        v, vo = torch.randn(4096), torch.empty(4096)

        def run() -> None:
            torch.mm(a, b, out=o)

        def small() -> None:
            torch.mm(s1, s2, out=so)

        def tiny() -> None:
            torch.mul(v, 2.0, out=vo)

    else:
        import numpy as np

        rng = np.random.default_rng(0)
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        o = np.empty((M, N), np.float32)
        s1 = rng.standard_normal((64, 64), dtype=np.float32)
        so = np.empty((64, 64), np.float32)
        v = rng.standard_normal(4096, dtype=np.float32)
        vo = np.empty_like(v)

        def run() -> None:
            np.matmul(a, b, out=o)

        def small() -> None:
            np.matmul(s1, s1, out=so)

        def tiny() -> None:
            np.multiply(v, 2.0, out=vo)

    end = time.perf_counter() + 0.5  # warm: threads up, pages in
    while time.perf_counter() < end:
        run()
    out: dict[tuple[str, float], list[float]] = {}
    for kind in KINDS:
        for ms in GAPS_MS:
            if kind != "spin" and ms == 0:
                continue
            seq: list[list[float]] = [[], [], []]
            for _ in range(rounds):
                _gap(kind, ms, small, tiny)
                for i in range(3):
                    t0 = time.perf_counter()
                    run()
                    seq[i].append(time.perf_counter() - t0)
            out[(kind, ms)] = [sorted(s)[len(s) // 2] * 1e3 for s in seq]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", default="5440,96,96", help="M,K,N of the GEMM")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--torch", action="store_true", help="also torch.mm, in its own process")
    ap.add_argument("--lib", default="", help=argparse.SUPPRESS)  # a child process's library
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    assert len(shape) == 3
    if args.lib:
        if args.lib == "torch":
            import torch

            torch.set_num_threads(args.threads)
        found = measure(args.lib, shape, args.rounds)  # type: ignore[arg-type]
        for (kind, ms), times in found.items():
            print(kind, ms, *(f"{t:.4f}" for t in times))
        return
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env[var] = str(args.threads)
    libs = ["numpy", "torch"] if args.torch else ["numpy"]
    M, K, N = shape
    print(f"GEMM {M}×{K}×{N}, {args.threads} thread(s), median of {args.rounds}: ms of the "
          "1st / 2nd / 3rd call after the gap, and the 1st ÷ back to back")  # fmt: skip
    for lib in libs:
        cmd = [sys.executable, __file__, "--lib", lib, "--threads", str(args.threads),
               "--shape", args.shape, "--rounds", str(args.rounds)]  # fmt: skip
        lines = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        rows = [line.split() for line in lines.splitlines()]
        hot = next(float(r[2]) for r in rows if r[0] == "spin" and float(r[1]) == 0)
        print(f"\n{lib}")
        print(f"{'gap':>6} {'kind':6} {'1st':>7} {'2nd':>7} {'3rd':>7}  1st ÷ hot")
        for kind, ms, *times in rows:
            t = [float(v) for v in times]
            print(
                f"{float(ms):6.1f} {kind:6} {t[0]:7.3f} {t[1]:7.3f} {t[2]:7.3f}  {t[0] / hot:.2f}"
            )


if __name__ == "__main__":
    main()
