"""`convcalc run`'s NumPy forward pass against PyTorch on the CPU, each in its own warm process.

Every bundled spec at its own input size, batch 1 and 8 (a spec the torch side cannot build
is named with the layer type it lacks). Both sides run the same network: the PyTorch model is
built generically from the analysis rows (plain torch.nn.functional, NCHW, eval mode, in-place
ReLU as torchvision does it, no torchvision).

Each library runs in a process of its own that stays up for the whole run (a worker, this
script with --worker), because a process that has imported torch slows NumPy's pass several
fold (mobilenet-v2: 0.48 s instead of 0.043 s). Both use the same number of threads (2 by
default: OpenBLAS and the engine's own for NumPy, OpenMP/oneDNN for torch), set before either
library is imported. For every spec and batch each worker first runs a warm-up pass, then the
two alternate for --runs rounds (so that a busy neighbour slows both alike), with a pause
between them (idle worker threads spin for a while and would take a core from the other
side's). NumPy's time is the sum of its step times (``ForwardResult.seconds``: weight drawing,
batch-norm folding, Winograd and grouped weight transforms excluded, as torch's weights
are ready too); torch's is the wall time of a forward call, its second in a row. A NumPy pass
shorter than ``WARM_BELOW`` is also the second of two in a row: after the pause the other
core's threads are asleep, and waking them cost these passes up to 2× (cs231n-pattern at
batch 1: 1.1 ms warm, 1.5–2.5 ms and up to 24 after a pause); in a longer pass it is noise.
A pass shorter than ``ROUND`` (50 ms) in its warm-up is run back to back within each round,
on both sides alike, as many times as fill 50 ms (at most 25), and the round reports its
median pass: timed once a round, a 1 ms pass reads whatever one scheduler tick did to it.

Printed: for every spec and batch the medians and their ratio; then the time of both sides
by layer kind, summed over every spec and batch (a fused step counts under its head's kind
on both sides: CONV → BN → RELU is "conv 3×3 s1"), with NumPy's GFLOP/s for the kind and
its share of this machine's NumPy float32 matmul peak (2048³, measured in the NumPy worker
before and after the rounds, the better reading kept).

Goal: the NumPy pass at most 1.2× torch's time for every spec and batch.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow a current NumPy on some processors (see the
machine notes); the workers run without them, and the header names the OpenBLAS kernel.

With ``--input WxHxC`` every spec runs at that input instead (one too small for a spec is
skipped with the analysis's reason): at 32x32x3 the arithmetic of the bundled networks is
small, and what is left is each side's fixed cost a layer call, printed as µs a step
(NumPy: a fused step, ``analysis.plan``) and µs a row (torch: a functional call a row), the
Python overhead per call that small volumes (CIFAR, a U-Net's small levels) pay.

    python benchmarks/forward_vs_torch.py [--runs 3] [--threads 2] [--models a,b] [--batches 1,8]
        [--max-gflop 300] [--layers] [--input 32x32x3]

Exits 0 with a message when torch is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

BATCHES = (1, 8)
#: between the two sides: idle BLAS/OpenMP worker threads spin for a while after their last
#: call, and would take a core from the other side's threads
PAUSE = 0.3
#: a NumPy pass shorter than this (in its warm-up) is timed as the second of two in a row
WARM_BELOW = 0.25
#: a pass shorter than this (in its warm-up) is repeated back to back within a round, both
#: sides alike, and the round reports the median pass: a 1 ms pass timed once a round is
#: at the mercy of one scheduler tick (pattern-3x-conv-conv-pool at batch 8 read 1.91× in
#: one run, 0.81× in the next)
ROUND = 0.05
MAX_REPEATS = 25


def _repeats(seconds: float) -> int:
    """Passes a round for a pass of ``seconds``: enough to fill ``ROUND``, at most 25."""
    return max(1, min(MAX_REPEATS, round(ROUND / max(seconds, 1e-6))))


DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed rounds after the warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="", help="comma-separated specs (default: every one)")
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--layers", action="store_true", help="also print each spec's kinds")
    ap.add_argument("--max-gflop", type=float, default=0.0,
                    help="skip a spec and batch of more GFLOP (2·MACs·batch) a pass")  # fmt: skip
    ap.add_argument("--input", default="",
                    help="run every spec at this input volume, WxHxC (e.g. 32x32x3)")  # fmt: skip
    ap.add_argument("--worker", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    return ap.parse_args()


# -- what both workers share: the kind of each row ------------------------------------------


def _analysis(name: str, shape: list[int] | None) -> Any:
    """The spec's analysis, at ``shape`` (W, H, C) instead of its input if given; a spec
    whose analysis has errors there raises with the first one."""
    import convcalc

    analysis = convcalc.analyze(convcalc.load(name), input=tuple(shape) if shape else None)
    if not analysis.ok:
        from convcalc.errors import Severity

        first = next(f for f in analysis.findings if f.severity is Severity.ERROR)
        raise ValueError(f"{first.code} {first.message}")
    return analysis


def _kinds(analysis: Any) -> list[str]:
    """Each row's kind, a fused row taking its step head's (see ``analysis.plan``)."""
    from convcalc.analysis.plan import plan

    rows = analysis.rows
    own = [_kind(row) for row in rows]
    out = list(own)
    for step in plan(rows).steps:
        for i in step.rows[1:] + step.before:  # fused: after the head, or its prologue
            out[i] = own[step.rows[0]]
    return out


def _kind(row: Any) -> str:
    if row.type not in ("CONV", "TCONV"):
        return str(row.type)
    (fw, fh), (sw, _), c = row.args["F"], row.args["S"], row.input_shapes[0][2]
    name = f"{row.type.lower()} {fw}×{fh} s{sw}"
    g = int(row.args.get("groups", 1))
    if row.type == "CONV" and g > 1:
        return name + (" depthwise" if g == c else " grouped")
    if c <= 4:
        return name + " stem"
    if row.type == "CONV" and fw * fh > 1 and row.output[2] * 4 <= c:
        return name + " few-out"  # many inputs, a few outputs (densenet's 128 → 32)
    return name


# -- the NumPy worker ------------------------------------------------------------------------


def _numpy_worker() -> Callable[[dict[str, Any]], dict[str, Any]]:
    import numpy as np

    from convcalc.engine.forward import forward

    cache: dict[str, tuple[Any, list[str]]] = {}
    short: dict[tuple[str, int], bool] = {}  # (spec, batch): its warm-up took < WARM_BELOW
    reps: dict[tuple[str, int], int] = {}  # (spec, batch): passes a round, from its warm-up

    def peak(n: int = 2048, runs: int = 5) -> float:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        best = float("inf")
        for _ in range(runs + 1):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - start)
        return 2 * n**3 / best / 1e9

    def handle(msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] == "hello":
            return {"peak": peak(), "core": _openblas_core(np), "numpy": np.__version__}
        if msg["op"] == "peak":  # again at the end: a busy machine lowers the first reading
            return {"peak": peak()}
        name, batch = msg["model"], msg["batch"]
        if name not in cache:
            analysis = _analysis(name, msg.get("input"))
            cache[name] = analysis, _kinds(analysis)
        analysis, kinds = cache[name]
        if msg["op"] == "prepare":
            from convcalc.analysis.plan import plan

            steps = len(plan(analysis.rows).steps) - 1  # the INPUT row's step takes no time
            return {"macs": [r.macs for r in analysis.rows], "kinds": kinds, "steps": steps}
        key = (name, batch)
        if short.get(key):  # as torch's timed call: the second in a row
            forward(analysis, batch=batch, trace_memory=False)
        passes = [
            forward(analysis, batch=batch, trace_memory=False) for _ in range(reps.get(key, 1))
        ]
        result = sorted(passes, key=lambda r: r.seconds)[len(passes) // 2]
        short.setdefault(key, result.seconds < WARM_BELOW)
        reps.setdefault(key, _repeats(result.seconds))
        by_kind: dict[str, float] = defaultdict(float)
        for kind, rec in zip(kinds, result.layers, strict=True):
            by_kind[kind] += rec.seconds
        return {"seconds": result.seconds, "kinds": by_kind}

    return handle


def _openblas_core(np: Any) -> str:
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


# -- the torch worker: the analysis rows as torch.nn.functional calls ------------------------


def _torch_worker(threads: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    import torch

    torch.set_num_threads(threads)
    cache: dict[str, Any] = {}
    reps: dict[tuple[str, int], int] = {}  # (spec, batch): passes a round, from its warm-up

    def handle(msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] == "hello":
            return {"torch": torch.__version__, "threads": torch.get_num_threads()}
        name, batch = msg["model"], msg["batch"]
        if name not in cache:
            analysis = _analysis(name, msg.get("input"))
            try:
                cache[name] = TorchNet(analysis, torch), _kinds(analysis)
            except NotImplementedError as e:
                cache[name] = str(e)
        if isinstance(cache[name], str):
            return {"skip": f"the torch side has no {cache[name]}"}
        net, kinds = cache[name]
        x0 = net.analysis.rows[0].output
        x = torch.randn(batch, x0[2], x0[1], x0[0])
        runs: list[tuple[float, list[float]]] = []
        with torch.inference_mode():
            net(x)  # the timed call is the second in a row: warm threads and caches
            for _ in range(reps.get((name, batch), 1)):
                times: list[float] = []
                start = time.perf_counter()
                net(x, times)
                runs.append((time.perf_counter() - start, times))
        seconds, times = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        reps.setdefault((name, batch), _repeats(seconds))
        by_kind: dict[str, float] = defaultdict(float)
        for kind, t in zip(kinds[1:], times, strict=True):
            by_kind[kind] += t
        return {"seconds": seconds, "kinds": by_kind}

    return handle


class TorchNet:
    """The rows of an analysis as a torch program (NCHW), with torch's default layouts."""

    PLAIN = (
        "INPUT", "POOL", "GAP", "ADD", "CAT", "MUL", "ID", "DROPOUT", "DROPPATH", "SKIP",
        "FLATTEN", "LRN", "SLICE", "SHUFFLE", "APOOL", "RELU", "TANH", "SIGMOID", "RELU6",
        "HSWISH", "HSIGMOID", "SILU", "SWISH", "GELU",
    )  # fmt: skip

    def __init__(self, analysis: Any, torch: Any, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.torch = torch
        self.F = torch.nn.functional
        self.analysis = analysis
        self.params = [self._init(row) for row in analysis.rows]

    @staticmethod
    def _hw(args: Any, key: str) -> tuple[int, int]:
        w, h = args[key]
        return h, w

    def _init(self, row: Any) -> dict[str, Any]:
        torch, kind, args = self.torch, row.type, row.args
        x = row.input_shapes[0] if row.input_shapes else row.output
        p: dict[str, Any] = {}
        k = int(args.get("K", 0) or 0)
        if kind in ("CONV", "TCONV"):
            fh, fw = self._hw(args, "F")
            g = int(args["groups"])
            shape = (k, x[2] // g, fh, fw) if kind == "CONV" else (x[2], k // g, fh, fw)
            p["w"] = torch.randn(*shape) * (2 / (fh * fw * x[2] // g)) ** 0.5
        elif kind in ("FC", "LINEAR"):
            d = x[0] * x[1] * x[2] if kind == "FC" else x[2]
            p["w"] = torch.randn(k, d) * (2 / d) ** 0.5
        elif kind in ("BN", "LN", "SCALE"):
            d = x[2]
            p = {"mean": torch.zeros(d), "var": torch.ones(d), "g": torch.ones(d),
                 "b": torch.zeros(d)}  # fmt: skip
        elif kind not in self.PLAIN:
            raise NotImplementedError(kind)
        if kind in ("CONV", "TCONV", "FC", "LINEAR") and args.get("bias", True):
            p["b"] = torch.zeros(k)
        return p

    def __call__(self, x: Any, times: list[float] | None = None) -> Any:
        rows = self.analysis.rows
        readers = [0] * len(rows)
        for row in rows:
            for j in row.inputs:
                readers[j] += 1
        arrays: dict[int, Any] = {0: x}
        for i, row in enumerate(rows[1:], 1):
            start = time.perf_counter()
            arrays[i] = self._layer(row, [arrays[j] for j in row.inputs], self.params[i])
            if times is not None:
                times.append(time.perf_counter() - start)
            for j in row.inputs:
                readers[j] -= 1
                if readers[j] == 0 and j != i:
                    arrays.pop(j, None)
        return arrays[len(rows) - 1]

    def _layer(self, row: Any, ins: list[Any], p: dict[str, Any]) -> Any:
        from convcalc.layers.vocabulary import LAYERS

        F, kind, args, x = self.F, row.type, row.args, ins[0]
        if kind == "CONV":
            a = LAYERS["CONV"].axes(args, row.input_shapes[0])
            if a[0].before != a[0].after or a[1].before != a[1].after:
                x = F.pad(x, (a[0].before, a[0].after, a[1].before, a[1].after))
                pad: Any = 0
            else:
                pad = (a[1].before, a[0].before)
            return F.conv2d(x, p["w"], p.get("b"), self._hw(args, "S"), pad,
                            self._hw(args, "dilation"), int(args["groups"]))  # fmt: skip
        if kind == "TCONV":
            return F.conv_transpose2d(x, p["w"], p.get("b"), self._hw(args, "S"),
                                      self._hw(args, "P"), self._hw(args, "out_pad"),
                                      int(args["groups"]), self._hw(args, "dilation"))  # fmt: skip
        if kind == "BN":
            return F.batch_norm(x, p["mean"], p["var"], p["g"], p["b"], False, 0.0,
                                float(args["eps"]))  # fmt: skip
        if kind == "LN":
            y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), p["g"], p["b"],
                             float(args["eps"]))  # fmt: skip
            return y.permute(0, 3, 1, 2)
        if kind == "SCALE":
            return x * p["g"][:, None, None]
        acts = {"RELU": F.relu, "RELU6": F.relu6, "HSWISH": F.hardswish, "SILU": F.silu,
                "SWISH": F.silu, "HSIGMOID": F.hardsigmoid}  # fmt: skip
        if kind in acts:
            return acts[kind](x, inplace=True)
        if kind in ("TANH", "SIGMOID", "GELU"):
            return {"TANH": self.torch.tanh, "SIGMOID": self.torch.sigmoid, "GELU": F.gelu}[kind](x)
        if kind == "POOL":
            a = LAYERS["POOL"].axes(args, row.input_shapes[0])
            ceil = bool(args["ceil"]) or self.analysis.rounding == "caffe"
            k, s, pad = self._hw(args, "F"), self._hw(args, "S"), (a[1].before, a[0].before)
            if args["type"] == "max":
                return F.max_pool2d(x, k, s, pad, ceil_mode=ceil)
            if args["type"] == "l2":
                return F.lp_pool2d(x, 2, k, s, ceil_mode=ceil)
            return F.avg_pool2d(x, k, s, pad, ceil_mode=ceil)
        if kind == "GAP":
            return F.adaptive_avg_pool2d(x, 1)
        if kind == "APOOL":
            size = self._hw(args, "out")
            pool = F.adaptive_max_pool2d if args["type"] == "max" else F.adaptive_avg_pool2d
            return pool(x, size)
        if kind == "FC":
            return F.linear(x.flatten(1), p["w"], p.get("b"))[:, :, None, None]
        if kind == "LINEAR":
            return F.conv2d(x, p["w"][:, :, None, None], p.get("b"))
        if kind in ("ADD", "MUL"):
            y = ins[0] + ins[1] if kind == "ADD" else ins[0] * ins[1]
            for other in ins[2:]:
                y = y + other if kind == "ADD" else y * other
            return y
        if kind == "CAT":
            return self.torch.cat(ins, 1)
        if kind == "LRN":
            return F.local_response_norm(x, int(args["size"]), float(args["alpha"]),
                                         float(args["beta"]), float(args["k"]))  # fmt: skip
        if kind == "FLATTEN":
            return x.flatten(1)[:, :, None, None]
        if kind == "SLICE":
            start, stop = LAYERS["SLICE"].channels(args, x.shape[1])
            return x[:, start:stop]
        if kind == "SHUFFLE":
            n, c, h, w = x.shape
            g = int(args["groups"])
            return x.view(n, g, c // g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return x  # ID, DROPOUT, DROPPATH, SKIP: identity


# -- the driver ------------------------------------------------------------------------------


def _serve(kind: str, threads: int) -> int:
    """A worker: one JSON request a line on stdin, one JSON answer a line on stdout."""
    handle = _numpy_worker() if kind == "numpy" else _torch_worker(threads)
    for line in sys.stdin:
        try:
            answer = handle(json.loads(line))
        except Exception as e:  # reported to the driver, which names the spec it skips
            answer = {"skip": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    return 0


class Worker:
    def __init__(self, kind: str, threads: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "CONVCALC_THREADS"):  # fmt: skip
            env[var] = str(threads)
        cmd = [sys.executable, __file__, "--worker", kind, "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)  # fmt: skip

    def ask(self, **msg: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a worker stopped (exit code {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _specs() -> list[str]:
    from convcalc.frontend import bundled

    return bundled.names()


def main(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        print("torch is not installed: nothing to compare against (pip install torch==2.13.0)")
        return 0
    models = args.models.split(",") if args.models else _specs()
    batches = [int(b) for b in args.batches.split(",")]
    shape = [int(v) for v in args.input.lower().split("x")] if args.input else None
    if shape is not None and (len(shape) != 3 or min(shape) < 1):
        print(f"--input takes WxHxC, e.g. 32x32x3, not {args.input!r}")
        return 2
    per_call: list[tuple[float, float]] = []  # (NumPy µs a step, torch µs a row)
    ours, theirs = Worker("numpy", args.threads), Worker("torch", args.threads)
    hello, hello_t = ours.ask(op="hello"), theirs.ask(op="hello")
    peak = hello["peak"]
    print(f"threads: {args.threads} (NumPy {hello['numpy']}, OpenBLAS {hello['core']}; torch "
          f"{hello_t['torch']}, {hello_t['threads']} threads); load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"NumPy float32 matmul peak (2048³): {peak:.0f} GFLOP/s")
    header = (
        f"{'model':26s} {'batch':>5s} {'numpy s':>9s} {'torch s':>9s} {'ratio':>6s} {'GFLOP/s':>8s}"
    )
    print(header)
    print("-" * len(header))
    np_kind: dict[str, float] = defaultdict(float)
    t_kind: dict[str, float] = defaultdict(float)
    flops_kind: dict[str, float] = defaultdict(float)
    ratios: list[tuple[str, int, float]] = []
    skipped: list[str] = []
    for name in models:
        prep = ours.ask(op="prepare", model=name, batch=1, input=shape)
        if "skip" in prep:
            skipped.append(f"{name}: {prep['skip']}")
            continue
        for batch in batches:
            gflop = 2 * sum(prep["macs"]) * batch / 1e9
            if args.max_gflop and gflop > args.max_gflop:
                skipped.append(f"{name} batch {batch}: {gflop:.0f} GFLOP a pass, above "
                               f"--max-gflop {args.max_gflop:g}")  # fmt: skip
                continue
            first = theirs.ask(op="run", model=name, batch=batch, input=shape)  # warm-ups
            if "skip" in first:
                skipped.append(f"{name} batch {batch}: {first['skip']}")
                break
            warm = ours.ask(op="run", model=name, batch=batch, input=shape)
            if "skip" in warm:
                skipped.append(f"{name} batch {batch}: {warm['skip']}")
                break
            a: list[dict[str, Any]] = []
            b: list[dict[str, Any]] = []
            for _ in range(args.runs):
                time.sleep(PAUSE)
                a.append(ours.ask(op="run", model=name, batch=batch, input=shape))
                time.sleep(PAUSE)  # let OpenBLAS's spinning threads go to sleep first
                b.append(theirs.ask(op="run", model=name, batch=batch, input=shape))
            t_np = statistics.median(r["seconds"] for r in a)
            t_t = statistics.median(r["seconds"] for r in b)
            macs = sum(prep["macs"])
            ratios.append((name, batch, t_np / t_t))
            print(f"{name:26s} {batch:5d} {t_np:9.4f} {t_t:9.4f} {t_np / t_t:6.2f} "
                  f"{2 * macs * batch / t_np / 1e9:8.1f}", flush=True)  # fmt: skip
            if shape is not None:
                rows = len(prep["macs"]) - 1
                per_call.append((t_np / prep["steps"] * 1e6, t_t / rows * 1e6))
                print(f"    a call: numpy {per_call[-1][0]:6.1f} µs a step ({prep['steps']} "
                      f"steps), torch {per_call[-1][1]:6.1f} µs a row ({rows} rows)")  # fmt: skip
            kinds = set(a[0]["kinds"]) | set(b[0]["kinds"])
            mine = {k: statistics.median(r["kinds"].get(k, 0.0) for r in a) for k in kinds}
            yours = {k: statistics.median(r["kinds"].get(k, 0.0) for r in b) for k in kinds}
            for k in kinds:
                np_kind[k] += mine[k]
                t_kind[k] += yours[k]
            for kind, m in zip(prep["kinds"], prep["macs"], strict=True):
                flops_kind[kind] += 2 * m * batch
            if args.layers:
                for k in sorted(kinds, key=lambda k: -mine[k]):
                    if mine[k] > 1e-4 or yours[k] > 1e-4:
                        print(f"    {k:24s} numpy {mine[k] * 1e3:8.2f} ms  torch "
                              f"{yours[k] * 1e3:8.2f} ms")  # fmt: skip
    peak = max(peak, ours.ask(op="peak")["peak"])
    print(f"NumPy float32 matmul peak, the better of the readings before and after: "
          f"{peak:.0f} GFLOP/s")  # fmt: skip
    ours.close()
    theirs.close()
    print()
    print("by layer kind, summed over every spec and batch (fused rows under their step's kind)")
    head = (
        f"{'kind':28s} {'numpy s':>9s} {'torch s':>9s} {'ratio':>6s} {'GFLOP/s':>8s} {'peak':>6s}"
    )
    print(head)
    print("-" * len(head))
    for k in sorted(np_kind, key=lambda k: -np_kind[k]):
        tn, tt = np_kind[k], t_kind[k]
        if tn < 1e-4 and tt < 1e-4:
            continue
        rate = flops_kind[k] / tn / 1e9 if tn > 0 else 0.0
        gf, share = (f"{rate:8.1f}", f"{rate / peak:6.1%}") if rate else ("", "")
        ratio = f"{tn / tt:6.2f}" if tt > 0 else ""
        print(f"{k:28s} {tn:9.4f} {tt:9.4f} {ratio:>6s} {gf:>8s} {share:>6s}")
    for line in skipped:
        print(f"skipped {line}")
    if per_call:
        steps_us = statistics.median(c[0] for c in per_call)
        rows_us = statistics.median(c[1] for c in per_call)
        print(f"a layer call at {args.input}, median over the specs: numpy {steps_us:.1f} µs a "
              f"step, torch {rows_us:.1f} µs a row")  # fmt: skip
    if ratios:
        worst = max(ratios, key=lambda r: r[2])
        print(f"worst ratio {worst[2]:.2f} ({worst[0]} batch {worst[1]}; goal: at most 1.2)")
    return 0


if __name__ == "__main__":
    ARGS = _parse()
    sys.exit(_serve(ARGS.worker, ARGS.threads) if ARGS.worker else main(ARGS))
