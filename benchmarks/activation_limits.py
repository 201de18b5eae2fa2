"""What an activation costs in NumPy, in passes: the engine's kernels against one multiply.

NumPy has no erf, no fused multiply-add and no activation ufuncs beyond tanh and exp, so an
activation is a sequence of whole passes over a block of values. Each pass costs about what a
multiply does (a pass over a block that stays in cache), so a kernel's time over a multiply's
is the number of passes it really takes; no cutting or threading makes one pass cheaper.
PyTorch computes each in one vectorised pass, at about a multiply's cost.

Printed, one thread, CPU time, for the volume of ConvNeXt-Tiny's largest GELU (8×56×56×384)
and of an EfficientNet SiLU (8×112×112×96): each kernel's ns per value and its cost in
multiplies, and GELU's again on values five times as wide (its cost must not depend on
them) and by its A&S formula instead of its float32 tables; NumPy's float32 exp alone (its
AVX2 loop loads and stores every vector through masked moves and divides once a vector:
numpy/_core/src/umath/loops_exponent_log.dispatch.c.src), which bounds SILU and SIGMOID;
with ``--torch`` (and torch installed), torch's time for the same operation (one
thread, in this process, into an output made once: only the ratio to its own multiply is
comparable, as torch next to NumPy slows both).

    python benchmarks/activation_limits.py [--runs 5] [--torch]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from timing import best

SHAPES = {"gelu": (8, 56, 56, 384), "silu": (8, 112, 112, 96)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--torch", action="store_true", help="also time torch's kernels")
    args = ap.parse_args()
    os.environ["CONVCALC_THREADS"] = "1"
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import numpy as np

    from convcalc.engine import kernels as K
    from convcalc.engine.kernels import gaussian

    kernels: dict[str, Callable[[Any, Any], Any]] = {
        "relu": lambda x, o: K.relu(x, out=o),
        "relu6": lambda x, o: K.relu6(x, out=o),
        "hardswish": lambda x, o: K.hardswish(x, out=o),
        "sigmoid": lambda x, o: K.sigmoid(x, out=o),
        "silu": lambda x, o: K.silu(x, out=o),
        "gelu": lambda x, o: K.gelu(x, out=o),
    }
    # torch's kernels into a tensor made once, as ours: a new output each call is 38 MB of
    # fresh pages, which would cost more than the activation
    torch_ops: dict[str, Callable[[Any, Any, Any], Any]] = {
        "relu": lambda t, x, o: t.clamp_min(x, 0, out=o),
        "relu6": lambda t, x, o: t._C._nn.hardtanh(x, 0.0, 6.0, out=o),
        "hardswish": lambda t, x, o: t._C._nn.hardswish(x, out=o),
        "sigmoid": lambda t, x, o: t.sigmoid(x, out=o),
        "silu": lambda t, x, o: t._C._nn.silu(x, out=o),
        "gelu": lambda t, x, o: t._C._nn.gelu(x, out=o),
    }
    torch: Any = None
    if args.torch:
        try:
            import torch as torch_module
        except ImportError:
            print("torch is not installed: its column is left out")
        else:
            torch = torch_module
            torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"{'kernel':10s} {'shape':18s} {'ns/value':>9s} {'multiplies':>11s}", end="")
    print(f" {'torch ns':>9s} {'torch muls':>11s}" if torch is not None else "")
    for shape in SHAPES.values():
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        out = np.empty_like(x)
        label = "×".join(map(str, shape))

        def per_value(f: Callable[..., Any], *a: Any, **k: Any) -> float:
            return best(partial(f, *a, **k), args.runs)[1] / x.size  # noqa: B023 (called here)

        mul = per_value(np.multiply, x, np.float32(1.5), out=out)
        if torch is not None:
            tx, tout = torch.from_numpy(x), torch.empty(shape)
            t_mul = per_value(torch.mul, tx, 1.5, out=tout)
        for name, kernel in kernels.items():
            cpu = per_value(kernel, x, out)
            line = f"{name:10s} {label:18s} {cpu * 1e9:9.3f} {cpu / mul:11.1f}"
            if torch is not None:
                t = per_value(torch_ops[name], torch, tx, tout)
                line += f" {t * 1e9:9.3f} {t / t_mul:11.1f}"
            print(line, flush=True)
        wide = x * np.float32(5)  # values of standard deviation 15: GELU's subnormal tail
        cpu = per_value(kernels["gelu"], wide, out)
        print(f"{'gelu ×5':10s} {label:18s} {cpu * 1e9:9.3f} {cpu / mul:11.1f}")
        tables = gaussian.gelu_tables
        gaussian.gelu_tables = lambda: None  # float32 GELU by the A&S formula instead
        try:
            cpu = per_value(kernels["gelu"], x, out)
        finally:
            gaussian.gelu_tables = tables
        print(f"{'gelu A&S':10s} {label:18s} {cpu * 1e9:9.3f} {cpu / mul:11.1f}")
        cpu = per_value(np.exp, x, out=out)  # NumPy's own, inside SILU, SIGMOID and A&S
        print(f"{'exp':10s} {label:18s} {cpu * 1e9:9.3f} {cpu / mul:11.1f}")
        print(f"{'multiply':10s} {label:18s} {mul * 1e9:9.3f} {1.0:11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
