"""How close is convcalc's training activation memory to what PyTorch really keeps?

For every bundled spec and the networks of tests/data/modern/ (ShuffleNetV2, MobileNetV3-Small,
AlexNet with its adaptive pool) at batch 1 and 8, a plain-torch model is built
from convcalc's own layer rows (CONV → Conv2d, BN → BatchNorm2d, RELU → ReLU(inplace=True),
max POOL → MaxPool2d, ADD → the in-place `out += identity` of torchvision's residual blocks, ...),
run forward in training mode, and every tensor autograd saves for the backward pass is
recorded with `torch.autograd.graph.saved_tensors_hooks`, deduplicated by storage, parameters
excluded, plus the network's output, which the loss reads. That byte count is compared with
convcalc's `activations + pool_switches`. With --amp, the forward runs under torch's CPU
autocast (bfloat16) and is compared with `memory --amp bf16`; the half weight copies autograd
keeps are compared with `weight_copies` on a second line.

Goal: within ±5% for every model. Skips cleanly (exit 0) when torch is not installed.

    python benchmarks/memory_vs_torch.py [--models vgg16 resnet50] [--batches 1 8] [--amp]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import convcalc
from convcalc.analysis.memory import estimate
from convcalc.analysis.training import Training
from convcalc.frontend.bundled import names
from convcalc.records import Row

MODERN = "tests/data/modern/"  # written with MUL, APOOL, SLICE and SHUFFLE
MODELS = (*names(), f"{MODERN}shufflenet-v2.yaml", f"{MODERN}mobilenet-v3-small.yaml",
          f"{MODERN}alexnet-adaptive.yaml")  # fmt: skip
MB = 1024 * 1024


def build(rows: Sequence[Row], rounding: str = "floor") -> Any:
    """A torch module that runs the rows in order (each row reads earlier rows); pools round
    up under caffe rounding, as ceil_mode does."""
    import torch
    from torch import nn

    def pad(row: Row) -> Any:
        p = row.args["P"]
        return "same" if p == "same" else (0 if p == "valid" else (p[1], p[0]))  # type: ignore[index]

    def module(row: Row) -> nn.Module | None:
        a, (_, _, d1) = row.args, row.input_shapes[0] if row.input_shapes else (0, 0, 0)
        if row.type == "CONV":
            f, s, dil = a["F"], a["S"], a["dilation"]
            return nn.Conv2d(d1, a["K"], (f[1], f[0]), (s[1], s[0]), pad(row), (dil[1], dil[0]),
                             a["groups"], bias=a["bias"])  # type: ignore[index, arg-type]  # fmt: skip
        if row.type == "TCONV":
            f, s, p, op = a["F"], a["S"], a["P"], a["out_pad"]
            dil = a["dilation"]
            return nn.ConvTranspose2d(d1, a["K"], (f[1], f[0]), (s[1], s[0]), (p[1], p[0]),
                                      (op[1], op[0]), a["groups"], a["bias"],
                                      (dil[1], dil[0]))  # type: ignore[index, arg-type]  # fmt: skip
        if row.type == "TANH":
            return nn.Tanh()
        if row.type == "BN":
            return nn.BatchNorm2d(d1)
        if row.type == "POOL":
            f, s, p = a["F"], a["S"], a["P"]
            cls = nn.MaxPool2d if a["type"] == "max" else nn.AvgPool2d
            ceil = bool(a["ceil"]) or rounding == "caffe"
            return cls((f[1], f[0]), (s[1], s[0]), (p[1], p[0]), ceil_mode=ceil)  # type: ignore[index]
        if row.type == "FC":
            w, h, d = row.input_shapes[0]
            return nn.Sequential(nn.Flatten(), nn.Linear(w * h * d, a["K"], bias=a["bias"]))  # type: ignore[arg-type]
        if row.type == "RELU":
            return nn.ReLU(inplace=bool(a["inplace"]))
        if row.type == "DROPOUT":
            return nn.Dropout(float(a["p"]))  # type: ignore[arg-type]
        if row.type == "LRN":
            return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"])  # type: ignore[arg-type]
        if row.type == "GAP":
            return nn.AdaptiveAvgPool2d(1)
        if row.type == "APOOL":
            w, h = a["out"]  # type: ignore[misc]
            return (nn.AdaptiveMaxPool2d if a["type"] == "max" else nn.AdaptiveAvgPool2d)((h, w))
        if row.type in ACTIVATIONS:
            return ACTIVATIONS[row.type](inplace=bool(a["inplace"]))
        if row.type == "LRELU":
            return nn.LeakyReLU(float(a["slope"]), inplace=bool(a["inplace"]))  # type: ignore[arg-type]
        if row.type == "ELU":
            return nn.ELU(float(a["alpha"]), inplace=bool(a["inplace"]))  # type: ignore[arg-type]
        if row.type in PLAIN:
            return PLAIN[row.type]()
        if row.type == "LN":  # ConvNeXt's LayerNorm2d
            return NHWC(nn.LayerNorm(d1, eps=float(a["eps"])))  # type: ignore[arg-type]
        if row.type == "LINEAR":
            return NHWC(nn.Linear(d1, a["K"], bias=a["bias"]))  # type: ignore[arg-type]
        if row.type == "SCALE":
            return Scale(d1)
        if row.type == "DROPPATH":
            return DropPath(float(a["p"]))  # type: ignore[arg-type]
        return None

    ACTIVATIONS = {"RELU": nn.ReLU, "RELU6": nn.ReLU6, "HSWISH": nn.Hardswish,
                   "HSIGMOID": nn.Hardsigmoid, "SILU": nn.SiLU, "SWISH": nn.SiLU}  # fmt: skip
    PLAIN = {"SIGMOID": nn.Sigmoid, "TANH": nn.Tanh, "GELU": nn.GELU}  # no in-place forms

    class NHWC(nn.Module):
        """A layer over the channels at each position, as ConvNeXt runs it: permuted."""

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class Scale(nn.Module):  # ConvNeXt's layer scale
        def __init__(self, d: int) -> None:
            super().__init__()
            self.gamma = nn.Parameter(torch.full((d, 1, 1), 1e-6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.gamma * x

    class DropPath(nn.Module):  # torchvision.ops.stochastic_depth, mode="row", training
        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.p == 0.0:
                return x
            noise = torch.empty(x.shape[0], 1, 1, 1).bernoulli_(1 - self.p).div_(1 - self.p)
            return x * noise

    class FromRows(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rows = rows
            self.layers = nn.ModuleList([module(r) or nn.Identity() for r in rows])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            outputs: list[torch.Tensor] = []
            for row, layer in zip(self.rows, self.layers, strict=True):
                inputs = [outputs[i] for i in row.inputs]
                if not inputs:
                    y = x
                elif row.type == "ADD":  # an add keeps nothing: in place (ResNet's
                    y = inputs[0] + inputs[1]  # out += identity) or not, the same is saved
                    for other in inputs[2:]:
                        y += other
                elif row.type == "CAT":
                    y = torch.cat(inputs, dim=1)
                elif row.type == "MUL":  # torchvision's SqueezeExcitation: scale * input
                    y = inputs[0] * inputs[1]
                elif row.type == "SLICE":  # a view, as x.chunk(2, dim=1)
                    start, stop = row.args["start"], row.args["stop"]
                    y = inputs[0][:, start : None if stop == "end" else stop]  # type: ignore[misc]
                elif row.type == "SHUFFLE":  # torchvision's channel_shuffle
                    n, c, h, w = inputs[0].shape
                    g = int(row.args["groups"])  # type: ignore[arg-type]
                    y = inputs[0].view(n, g, c // g, h, w).transpose(1, 2).contiguous()
                    y = y.view(n, c, h, w)
                else:
                    y = layer(inputs[0])
                    if row.type == "FC":
                        y = y.reshape(y.shape[0], -1, 1, 1)
                outputs.append(y)
            return outputs[-1]

    return FromRows()


def saved_bytes(
    model: Any, batch: int, shape: tuple[int, int, int], amp: bool = False
) -> tuple[int, int]:
    """Bytes of the unique non-parameter tensors autograd saves in one training forward:
    (activations and switches, half copies of weights, which only autocast makes)."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    weights = {tuple(p.shape) for p in model.parameters() if p.dim() > 1}
    weights |= {tuple(reversed(s)) for s in weights}  # Linear keeps its weight transposed
    seen: dict[int, tuple[int, tuple[int, ...]]] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = (storage.nbytes(), tuple(t.shape))
        return t

    w, h, d = shape
    x = torch.randn(batch, d, h, w)
    model.train()
    with (
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
    ):
        model(x)
    copies = sum(n for n, s in seen.values() if amp and s in weights and s[0] != batch)
    return sum(n for n, _ in seen.values()) - copies, copies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--amp", action="store_true", help="bf16 autocast against --amp bf16")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if len(args.models) > 1:
        return _each_in_its_own_process(args)
    try:
        import torch
    except ImportError:
        print("memory_vs_torch: torch is not installed; skipped (pip install torch==2.13.0)")
        return 0
    torch.manual_seed(0)
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}; MB = 1024² bytes; goal: convcalc/torch within ±5%")
    if not args.child:
        print(HEADER)
        print("-" * len(HEADER))
    worst = 0.0
    for name in args.models:
        for batch in args.batches:
            a = convcalc.analyze(convcalc.load(name), batch=batch)
            assert a.memory is not None and a.output is not None, name
            training = Training(amp="bf16" if args.amp else None)
            m = estimate(a.rows, dtype="float32", batch=batch, optimizer="sgd", training=training)
            ours = m.activations + m.pool_switches
            out = a.rows[-1].output  # the network's output, which the loss reads
            theirs, copies = saved_bytes(build(a.rows, a.rounding), batch, a.input, args.amp)
            theirs += batch * (2 if args.amp else 4) * out[0] * out[1] * out[2]
            ratio = ours / theirs
            worst = max(worst, abs(ratio - 1))
            short = name.removeprefix(MODERN).removesuffix(".yaml")
            print(f"{short:<20} {batch:>5} {theirs / MB:>15.2f} {ours / MB:>12.2f} {ratio:>7.3f}")
            if args.amp:
                mine = m.weight_copies
                print(f"{'  weight copies':<20} {'':>5} {copies / MB:>15.2f} {mine / MB:>12.2f} "
                      f"{mine / max(copies, 1):>7.3f}")  # fmt: skip
    if not args.child:
        print(f"largest deviation: {worst:.1%} ({'within' if worst <= 0.05 else 'outside'} ±5%)")
    return 0


HEADER = f"{'model':<20} {'batch':>5} {'torch saved MB':>15} {'convcalc MB':>12} {'ratio':>7}"


def _each_in_its_own_process(args: argparse.Namespace) -> int:
    """One child process a model: torch's allocator keeps what a model freed, and a run over
    every bundled spec in one process grew past 22 GB and was killed."""
    import subprocess

    print(f"MB = 1024² bytes; goal: convcalc/torch within ±5%; one process a model\n{HEADER}")
    print("-" * len(HEADER))
    worst = 0.0
    for name in args.models:
        amp = ["--amp"] if args.amp else []
        command = [sys.executable, __file__, "--child", "--models", name,
                   "--batches", *map(str, args.batches), *amp]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            if line.startswith(("torch ", "memory_vs_torch:")):
                continue
            print(line, flush=True)
            fields = line.split()
            if len(fields) >= 5 and not line.startswith(" "):
                worst = max(worst, abs(float(fields[-1]) - 1))
        if out.returncode:
            print(f"{name}: failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
            worst = max(worst, 1.0)
    print(f"largest deviation: {worst:.1%} ({'within' if worst <= 0.05 else 'outside'} ±5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
