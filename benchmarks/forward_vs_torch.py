"""`convcalc run`'s NumPy forward pass against PyTorch on the CPU, side by side in one run.

VGG16, ResNet-50, AlexNet, MobileNetV3-Large, EfficientNet-B0, ShuffleNetV2 x1.0 and
ConvNeXt-T at 224×224×3, batch 1 and 8. Both sides run the same network: the PyTorch model is
built generically from the analysis rows (plain torch.nn.functional, NCHW, eval mode,
in-place activations where torchvision has them, ConvNeXt's LayerNorm and Linear on the
permuted NHWC view as torchvision runs them, no torchvision). Both use the same
number of threads (2 by default: OpenBLAS for NumPy, OpenMP/oneDNN for torch), set before
either library is imported. For every model and batch: a warm-up, then the NumPy and torch
passes alternate for --runs rounds (so that a busy neighbour slows both alike), with a pause
between the two sides (idle worker threads spin for a while and would take a core from the
other library's threads). Printed: the medians, their ratio, the NumPy pass's GFLOP/s
(2·MACs·batch/s: "effective" where Winograd does fewer multiplications than the MACs) and
this machine's NumPy float32 matmul peak, measured in the same run. NumPy's time is the sum
of its layer times (``ForwardResult.seconds``, weight initialisation excluded); torch's is
the wall time of the second of two forward calls in a row (warm, as back-to-back runs are).

Goal: the NumPy pass at most 1.2× torch's time for every model and batch.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow a current NumPy on some processors (see the
machine notes); the script re-executes itself without them when they are set, for this
command alone, and prints the OpenBLAS kernel it runs.

    python benchmarks/forward_vs_torch.py [--runs 5] [--threads 2] [--models vgg16,convnext-tiny]

Exits 0 with a message when torch is not installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

MODELS = ("vgg16", "resnet50", "alexnet", "mobilenet-v3-large", "efficientnet-b0",
          "shufflenet-v2-x1-0", "convnext-tiny")  # fmt: skip
BATCHES = (1, 8)
INPUT = (224, 224, 3)
#: between the two sides: idle BLAS/OpenMP worker threads spin for a while after their last
#: call, and would take a core from the other side's threads
PAUSE = 0.3


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed rounds after the warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--layers", action="store_true", help="also print per-layer times")
    return ap.parse_args()


ARGS = _parse()

if any(k in os.environ for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    print("re-running without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE", flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed: nothing to compare against (pip install torch==2.13.0)")
    sys.exit(0)

import numpy as np  # noqa: E402

import convcalc  # noqa: E402
from convcalc.engine.forward import forward  # noqa: E402
from convcalc.layers.vocabulary import LAYERS  # noqa: E402

torch.set_num_threads(ARGS.threads)


def openblas_core() -> str:
    """The OpenBLAS kernel NumPy runs (SkylakeX, Haswell, ...), if it can be asked."""
    import ctypes
    import glob

    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                     "openblas_get_corename"):  # fmt: skip
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return str(fn().decode())
    return "unknown"


def matmul_peak(n: int = 2048, runs: int = 7) -> float:
    """NumPy float32 GFLOP/s on an n×n×n matmul, best of a few."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    np.matmul(a, b, out=c)
    best = min(_timed(lambda: np.matmul(a, b, out=c)) for _ in range(runs))
    return 2 * n**3 / best / 1e9


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- the torch side: the analysis rows as torch.nn.functional calls ------------------------


class TorchNet:
    """The rows of an analysis as a torch program (NCHW), with torch's default layouts."""

    def __init__(self, analysis: convcalc.Analysis, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.analysis = analysis
        self.params: list[dict[str, torch.Tensor]] = []
        for row in analysis.rows:
            self.params.append(self._init(row))

    @staticmethod
    def _hw(args: Any, key: str) -> tuple[int, int]:
        w, h = args[key]
        return h, w

    def _init(self, row: Any) -> dict[str, torch.Tensor]:
        kind, args = row.type, row.args
        x = row.input_shapes[0] if row.input_shapes else row.output
        p: dict[str, torch.Tensor] = {}
        if kind == "CONV":
            fh, fw = self._hw(args, "F")
            g = int(args["groups"])
            p["w"] = (
                torch.randn(int(args["K"]), x[2] // g, fh, fw) * (2 / (fh * fw * x[2] // g)) ** 0.5
            )
            if args["bias"]:
                p["b"] = torch.zeros(int(args["K"]))
        elif kind == "FC":
            d = x[0] * x[1] * x[2]
            p["w"] = torch.randn(int(args["K"]), d) * (2 / d) ** 0.5
            if args["bias"]:
                p["b"] = torch.zeros(int(args["K"]))
        elif kind == "BN":
            d = x[2]
            p = {
                "mean": torch.zeros(d),
                "var": torch.ones(d),
                "g": torch.ones(d),
                "b": torch.zeros(d),
            }
        elif kind == "LINEAR":
            p["w"] = torch.randn(int(args["K"]), x[2]) * (2 / x[2]) ** 0.5
            if args["bias"]:
                p["b"] = torch.zeros(int(args["K"]))
        elif kind == "LN":
            p = {"g": torch.ones(x[2]), "b": torch.zeros(x[2])}
        elif kind == "SCALE":
            p["g"] = torch.full((x[2], 1, 1), 1e-6)
        elif kind not in ("INPUT", "POOL", "GAP", "APOOL", "ADD", "CAT", "MUL", "ID", "DROPOUT",
                          "DROPPATH", "SKIP", "FLATTEN", "LRN", "SLICE", "SHUFFLE",
                          *ACTIVATIONS):  # fmt: skip
            raise NotImplementedError(kind)
        return p

    def __call__(self, x: torch.Tensor, times: list[float] | None = None) -> torch.Tensor:
        rows = self.analysis.rows
        readers = [0] * len(rows)
        for row in rows:
            for j in row.inputs:
                readers[j] += 1
        arrays: dict[int, torch.Tensor] = {0: x}
        for i, row in enumerate(rows[1:], 1):
            start = time.perf_counter()
            ins = [arrays[j] for j in row.inputs]
            arrays[i] = self._layer(row, ins, self.params[i], readers)
            if times is not None:
                times.append(time.perf_counter() - start)
            for j in row.inputs:
                readers[j] -= 1
                if readers[j] == 0 and j != i:
                    arrays.pop(j, None)
        return arrays[len(rows) - 1]

    def _layer(self, row: Any, ins: list[torch.Tensor], p: dict[str, torch.Tensor],
               readers: list[int]) -> torch.Tensor:  # fmt: skip
        kind, args = row.type, row.args
        x = ins[0]
        if kind == "CONV":
            a = LAYERS["CONV"].axes(args, row.input_shapes[0])
            if a[0].before != a[0].after or a[1].before != a[1].after:
                x = F.pad(x, (a[0].before, a[0].after, a[1].before, a[1].after))
                pad: Any = 0
            else:
                pad = (a[1].before, a[0].before)
            return F.conv2d(x, p["w"], p.get("b"), self._hw(args, "S"), pad,
                            self._hw(args, "dilation"), int(args["groups"]))  # fmt: skip
        if kind == "BN":
            return F.batch_norm(x, p["mean"], p["var"], p["g"], p["b"], False, 0.0,
                                float(args["eps"]))  # fmt: skip
        if kind in ACTIVATIONS:
            return ACTIVATIONS[kind](x, bool(args["inplace"]))
        if kind == "POOL":
            a = LAYERS["POOL"].axes(args, row.input_shapes[0])
            ceil = bool(args["ceil"]) or self.analysis.rounding == "caffe"
            k, s, pad = self._hw(args, "F"), self._hw(args, "S"), (a[1].before, a[0].before)
            if args["type"] == "max":
                return F.max_pool2d(x, k, s, pad, ceil_mode=ceil)
            return F.avg_pool2d(x, k, s, pad, ceil_mode=ceil)
        if kind == "GAP":
            return F.adaptive_avg_pool2d(x, 1)
        if kind == "APOOL":
            w, h = args["out"]
            pool = F.adaptive_max_pool2d if args["type"] == "max" else F.adaptive_avg_pool2d
            return pool(x, (h, w))
        if kind == "LN":  # ConvNeXt's LayerNorm2d: over the channels of the NHWC view
            nhwc = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), p["g"], p["b"],
                                float(args["eps"]))  # fmt: skip
            return nhwc.permute(0, 3, 1, 2)
        if kind == "LINEAR":  # at every position, on the NHWC view
            return F.linear(x.permute(0, 2, 3, 1), p["w"], p.get("b")).permute(0, 3, 1, 2)
        if kind == "SCALE":
            return p["g"] * x
        if kind == "MUL":  # squeeze-and-excitation: a 1×1×D branch broadcast
            return ins[0] * ins[1]
        if kind == "SLICE":
            stop = args["stop"]
            return x[:, int(args["start"]) : None if stop == "end" else int(stop)]
        if kind == "SHUFFLE":  # torchvision's channel_shuffle
            n, c, h, w = x.shape
            g = int(args["groups"])
            return x.view(n, g, c // g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        if kind == "FC":
            y = F.linear(x.flatten(1), p["w"], p.get("b"))
            return y[:, :, None, None]
        if kind == "ADD":
            y = ins[0] + ins[1]
            for other in ins[2:]:
                y += other
            return y
        if kind == "CAT":
            return torch.cat(ins, 1)
        if kind == "LRN":
            return F.local_response_norm(x, int(args["size"]), float(args["alpha"]),
                                         float(args["beta"]), float(args["k"]))  # fmt: skip
        if kind == "FLATTEN":
            return x.flatten(1)[:, :, None, None]
        return x  # ID, DROPOUT, DROPPATH, SKIP: the identity at inference


def _sigmoid(x: torch.Tensor, inplace: bool) -> torch.Tensor:
    return torch.sigmoid(x)  # torchvision's nn.Sigmoid: never in place


#: activation row type → f(x, inplace), as torchvision's modules call them
ACTIVATIONS: dict[str, Any] = {
    "RELU": lambda x, inplace: F.relu(x, inplace=inplace),
    "RELU6": lambda x, inplace: F.relu6(x, inplace=inplace),
    "HSWISH": lambda x, inplace: F.hardswish(x, inplace=inplace),
    "HSIGMOID": lambda x, inplace: F.hardsigmoid(x, inplace=inplace),
    "SILU": lambda x, inplace: F.silu(x, inplace=inplace),
    "SWISH": lambda x, inplace: F.silu(x, inplace=inplace),
    "SIGMOID": _sigmoid,
    "TANH": lambda x, inplace: torch.tanh(x),
    "GELU": lambda x, inplace: F.gelu(x),  # no in-place form
}


# -- the benchmark ------------------------------------------------------------------------


def main() -> int:
    print(f"threads: {ARGS.threads} (NumPy/OpenBLAS {openblas_core()}, torch {torch.__version__}"
          f", {torch.get_num_threads()} threads)")  # fmt: skip
    peak = matmul_peak()
    print(f"NumPy float32 matmul peak (2048³): {peak:.0f} GFLOP/s")
    header = (f"{'model':18s} {'batch':>5s} {'numpy s':>9s} {'torch s':>9s} {'ratio':>6s} "
              f"{'GFLOP/s':>8s} {'peak':>6s}")  # fmt: skip
    print(header)
    print("-" * len(header))
    results = []
    for name in ARGS.models.split(","):
        analysis = convcalc.analyze(convcalc.load(name), input=INPUT)
        net = TorchNet(analysis)
        for batch in map(int, ARGS.batches.split(",")):
            x = torch.randn(batch, INPUT[2], INPUT[1], INPUT[0])
            with torch.inference_mode():
                net(x)
                forward(analysis, batch=batch, trace_memory=False)  # warm-up
                ours, theirs = [], []
                for _ in range(ARGS.runs):
                    result = forward(analysis, batch=batch, trace_memory=False)
                    ours.append(result.seconds)
                    time.sleep(PAUSE)  # let OpenBLAS's spinning threads go to sleep first
                    net(x)  # torch's timed pass is its second in a row: warm threads, caches
                    theirs.append(_timed(lambda x=x, net=net: net(x)))
                    time.sleep(PAUSE)  # and torch's OpenMP threads
            t_np, t_torch = statistics.median(ours), statistics.median(theirs)
            gflops = 2 * analysis.totals.macs * batch / t_np / 1e9
            results.append((name, batch, t_np, t_torch))
            print(f"{name:18s} {batch:5d} {t_np:9.3f} {t_torch:9.3f} {t_np / t_torch:6.2f} "
                  f"{gflops:8.1f} {peak:6.0f}", flush=True)  # fmt: skip
            if ARGS.layers:
                times: list[float] = []
                with torch.inference_mode():
                    net(x, times)
                for row, rec, tt in zip(analysis.rows[1:], result.layers[1:], times, strict=True):
                    if rec.seconds > 1e-3 or tt > 1e-3:
                        print(f"    {row.name:16s} {row.type:6s} numpy {rec.seconds * 1e3:7.1f} ms"
                              f"  torch {tt * 1e3:7.1f} ms")  # fmt: skip
    worst = max(t_np / t_torch for _, _, t_np, t_torch in results)
    print(f"worst ratio {worst:.2f} (goal: at most 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
