"""CPU time of the grouped and depthwise CONV layers of the bundled specs, one kernel at a time.

The shapes are those of ResNeXt-50 32×4d, RegNetX/Y-400MF (3×3, groups of 4 to 32 channels;
every grouped shape of both RegNets, "rX" for RegNetX's groups of 16, "ry" for RegNetY's of 8)
and ConvNeXt-Tiny, MobileNet/EfficientNet (depthwise 3×3, 5×5, 7×7), at batch 1 and 8. Each
is timed through ``kernels.conv2d`` (the path the forward pass takes: ``grouped_gemm2d`` or
``depthwise2d``), the best CPU time (``time.process_time``) of --runs calls after a warm-up;
CPU time, so that a busy machine shifts the figures less than wall time would. ``--torch``
times ``torch.nn.functional.conv2d`` instead, in this process (run it as a separate command:
a process that has imported torch slows NumPy several fold). Compare two versions of the
engine by running this script under each (PYTHONPATH=<worktree>) with the same --threads.

    python benchmarks/grouped_kernels.py [--threads 1] [--runs 5] [--torch] [--only rx,dw7]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial

from timing import best

#: (name, input size, channels in, channels out, groups, stride, filter size)
SHAPES = [
    ("rx 3x3 s1 56 c128 g32", 56, 128, 128, 32, 1, 3),
    ("rx 3x3 s2 56 c256 g32", 56, 256, 256, 32, 2, 3),
    ("rx 3x3 s1 28 c256 g32", 28, 256, 256, 32, 1, 3),
    ("rx 3x3 s2 28 c512 g32", 28, 512, 512, 32, 2, 3),
    ("rx 3x3 s1 14 c512 g32", 14, 512, 512, 32, 1, 3),
    ("rx 3x3 s1 7 c1024 g32", 7, 1024, 1024, 32, 1, 3),
    ("ry 3x3 s1 28 c104 g13", 28, 104, 104, 13, 1, 3),
    ("ry 3x3 s1 14 c208 g26", 14, 208, 208, 26, 1, 3),
    ("ry 3x3 s1 7 c440 g55", 7, 440, 440, 55, 1, 3),
    ("ry 3x3 s2 112 c48 g6", 112, 48, 48, 6, 2, 3),
    ("ry 3x3 s2 56 c104 g13", 56, 104, 104, 13, 2, 3),
    ("ry 3x3 s2 28 c208 g26", 28, 208, 208, 26, 2, 3),
    ("ry 3x3 s2 14 c440 g55", 14, 440, 440, 55, 2, 3),
    ("rX 3x3 s2 112 c32 g2", 112, 32, 32, 2, 2, 3),
    ("rX 3x3 s2 56 c64 g4", 56, 64, 64, 4, 2, 3),
    ("rX 3x3 s1 28 c64 g4", 28, 64, 64, 4, 1, 3),
    ("rX 3x3 s2 28 c160 g10", 28, 160, 160, 10, 2, 3),
    ("rX 3x3 s1 14 c160 g10", 14, 160, 160, 10, 1, 3),
    ("rX 3x3 s2 14 c400 g25", 14, 400, 400, 25, 2, 3),
    ("rX 3x3 s1 7 c400 g25", 7, 400, 400, 25, 1, 3),
    ("dw7 s1 56 c96", 56, 96, 96, 96, 1, 7),
    ("dw7 s1 28 c192", 28, 192, 192, 192, 1, 7),
    ("dw7 s1 14 c384", 14, 384, 384, 384, 1, 7),
    ("dw7 s1 7 c768", 7, 768, 768, 768, 1, 7),
    ("dw3 s1 112 c32", 112, 32, 32, 32, 1, 3),
    ("dw3 s1 56 c144", 56, 144, 144, 144, 1, 3),
    ("dw3 s1 14 c576", 14, 576, 576, 576, 1, 3),
    ("dw5 s1 14 c480", 14, 480, 480, 480, 1, 5),
    ("dw5 s2 28 c240", 28, 240, 240, 240, 2, 5),
]


def _ms(f: Callable[[], object], runs: int) -> float:
    return best(f, runs)[1] * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--torch", action="store_true", help="time torch.nn.functional instead")
    ap.add_argument("--only", default="", help="comma-separated parts of shape names")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "CONVCALC_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    rng = np.random.default_rng(0)
    only = [s for s in args.only.split(",") if s]
    side = "torch" if args.torch else "numpy"
    if args.torch:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
    else:
        from convcalc.engine import kernels as K
    for batch in (1, 8):
        for name, size, c, k, groups, s, f in SHAPES:
            if only and not any(o in name for o in only):
                continue
            x = rng.standard_normal((batch, size, size, c)).astype(np.float32)
            w = rng.standard_normal((f, f, c // groups, k)).astype(np.float32)
            b = rng.standard_normal(k).astype(np.float32)
            p = f // 2
            if args.torch:
                xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
                wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
                bt = torch.from_numpy(b)
                with torch.no_grad():
                    ms = _ms(partial(F.conv2d, xt, wt, bt, s, p, 1, groups), args.runs)
            else:
                pads = ((p, p), (p, p))
                call = partial(K.conv2d, x, w, b, stride=(s, s), pad=pads, groups=groups)
                ms = _ms(partial(call, arena=K.Arena()), args.runs)
            print(f"batch {batch}  {name:<24} {side} {ms:8.2f} ms CPU", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
