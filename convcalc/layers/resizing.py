"""Layers that reshape the volume without a window: GAP, APOOL, FC, LINEAR, FLATTEN, UP, and
the channel layers SLICE and SHUFFLE."""

from __future__ import annotations

from typing import Any

from ..records import Args, IntPair, Shape
from .base import (
    BIAS,
    FILTERS,
    RF,
    Call,
    Counts,
    LayerType,
    ParamSpec,
    divide,
    flag,
    he_weights,
    integer,
    kernels,
    pair,
    whole_input,
)
from .geometry import Axis


class GAP(LayerType):
    name = "GAP"
    doc = "global average pooling: 1×1×D1"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return whole_input(x, rf)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        return 1

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        global_avg_pool = kernels().global_avg_pool

        return global_avg_pool(call.array)


class APool(LayerType):
    name = "APOOL"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("out", "pair", None, doc="output size: one number, or (width, height)"),
        ParamSpec("type", "choice", "avg", choices=("avg", "max"), doc="avg or max"),
    )
    doc = (
        "adaptive pooling to out_w×out_h×D1 over PyTorch's bins: bin i spans floor(i·W/out) "
        "to ceil((i + 1)·W/out)"
    )

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        w, h = pair(args, "out")
        return w, h, x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        """The largest bin; bins that divide the input evenly are a POOL(F=S=W/out), whose
        centres are tracked, uneven ones sit on no regular grid."""
        out = pair(args, "out")
        size, jump, centre = [], [], []
        for i in (0, 1):
            largest = largest_bin(x[i], out[i])
            size.append(rf.size[i] + (largest - 1) * rf.jump[i])
            jump.append(divide(rf.jump[i] * x[i], out[i]))
            if rf.centre is not None and x[i] % out[i] == 0:
                centre.append(rf.centre[i] + divide(largest - 1, 2) * rf.jump[i])
        even = len(centre) == 2
        return RF((size[0], size[1]), (jump[0], jump[1]), (centre[0], centre[1]) if even else None)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        return pair(args, "out")[i]

    def describe(self, args: Args) -> str:
        """``APOOL 6×6``, ``APOOL max 7×7``: the type unless avg."""
        w, h = pair(args, "out")
        kind = [] if args["type"] == "avg" else [str(args["type"])]
        return " ".join((self.name, *kind, f"{w}×{h}"))

    def switch_values(self, args: Args, y: Shape) -> int:
        """Adaptive max pooling keeps where each maximum came from, as max POOL does."""
        return y[0] * y[1] * y[2] if args["type"] == "max" else 0

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """The input reduced along the height first: (out_h, W1) per channel and image."""
        return {"temp": batch * y[1] * x[0] * x[2] * itemsize}

    arena_output = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        adaptive_pool2d = kernels().adaptive_pool2d

        w, h = pair(args, "out")
        return adaptive_pool2d(call.array, (h, w), str(args["type"]), call.arena)


def largest_bin(size: int, out: int) -> int:
    """The widest of ``adaptive_bins(size, out)``, without listing them (an axis may have
    millions). With size = q·out + r, bin i is q + ceil((i+1)·r/out) − floor(i·r/out) wide:
    q + 2 when some i·r mod out exceeds out − r, which happens unless r divides out (the
    residues are the multiples of gcd(r, out)); q + 1 otherwise, q when r = 0."""
    q, r = divmod(size, out)
    if r == 0:
        return q
    return q + 2 if out % r else q + 1


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins along one axis (the kernels' ``adaptive_bins``, written again
    here so that a check never imports NumPy)."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class FC(LayerType):
    name = "FC"
    params: tuple[ParamSpec, ...] = (FILTERS, BIAS)
    doc = "fully connected: every output sees the whole input volume (flattened)"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, integer(args, "K")

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        k = integer(args, "K")
        inputs = x[0] * x[1] * x[2]
        return Counts(inputs * k, k if flag(args, "bias") else 0, 0, inputs * k)

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return whole_input(x, rf)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        return 1

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """The product and its contiguous copy, each output-sized (NumPy's own): the input
        flattens as a view and the GEMM reads it transposed in place (a pass's measured peak,
        pattern-linear at batch 8: 0.44 of the estimate with three input copies counted)."""
        return {"temp": 2 * batch * y[0] * y[1] * y[2] * itemsize}

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """Weights (K, W1·H1·D1), as PyTorch stores them, He-initialised; zero biases."""
        d, k = x[0] * x[1] * x[2], integer(args, "K")
        return he_weights(args, (k, d), d, (k,), rng, dtype)

    takes_epilogue = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """The flattened input times the weights (see ``kernels.fully_connected``), with the
        step's epilogues."""
        fully_connected = kernels().fully_connected

        p = call.params
        return fully_connected(call.array, p["w"], p.get("b"), epilogue=call.epilogue)

    def scale_filters(self, w: Any, scale: Any) -> None:
        """Its weights are (K, D), as PyTorch stores them: a filter is a row."""
        w *= scale[:, None].astype(w.dtype)


class Linear(LayerType):
    name = "LINEAR"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("K", "int", None, doc="output features at each position (output depth)"),
        BIAS,
    )
    doc = "torch.nn.Linear at every position (ConvNeXt's MLP): W1×H1×K, a 1×1 CONV's counts"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return x[0], x[1], integer(args, "K")

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        k, d = integer(args, "K"), x[2]
        return Counts(d * k, k if flag(args, "bias") else 0, 0, x[0] * x[1] * d * k)

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """Weights (K, D1), as PyTorch's Linear stores them, He-initialised; zero biases."""
        d, k = x[2], integer(args, "K")
        return he_weights(args, (k, d), d, (k,), rng, dtype)

    arena_output = True
    takes_epilogue = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """One GEMM over every position (see ``kernels.linear``), with the step's epilogues."""
        linear = kernels().linear

        p = call.params
        return linear(
            call.array, p["w"], p.get("b"), epilogue=call.epilogue, arena=call.arena,
            prologue=p.get("prologue", ()), bias_column=bool(p.get("bias_column")),
        )  # fmt: skip

    def scale_filters(self, w: Any, scale: Any) -> None:
        """Its weights are (K, D1), as PyTorch stores them: a filter is a row."""
        w *= scale[:, None].astype(w.dtype)

    def fold_input(self, w: Any, b: Any, scale: Any, shift: Any) -> tuple[Any, Any]:
        """w·(x·scale + shift) + b = (w·diag(scale))·x + (w·shift + b): w in place, the new
        bias a GEMV in at least float32 (a LINEAR without one gets one)."""
        import numpy as np

        acc = np.promote_types(w.dtype, np.float32)
        bias = np.matmul(w.astype(acc, copy=False), shift.astype(acc))
        if b is not None:
            bias += b
        w *= scale[None, :].astype(w.dtype)
        return w, bias.astype(w.dtype)


class Flatten(LayerType):
    name = "FLATTEN"
    doc = "1×1×(W·H·D)"
    in_place = True

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, x[0] * x[1] * x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return whole_input(x, rf)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        return 1

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """A view of the input, (N, 1, 1, H·W·D)."""
        a = call.array
        return a.reshape(a.shape[0], 1, 1, -1)


class Up(LayerType):
    name = "UP"
    params: tuple[ParamSpec, ...] = (ParamSpec("n", "int", 2, doc="scale factor"),)
    doc = "nearest-neighbour upsampling: (W·n)×(H·n)×D"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        n = integer(args, "n")
        return x[0] * n, x[1] * n, x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        n = integer(args, "n")
        return RF(rf.size, (divide(rf.jump[0], n), divide(rf.jump[1], n)), None)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        return size * integer(args, "n")

    def describe(self, args: Args) -> str:
        """``UP ×2``"""
        return f"{self.name} ×{args['n']}"

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        upsample_nearest = kernels().upsample_nearest

        return upsample_nearest(call.array, integer(args, "n"))


class Slice(LayerType):
    name = "SLICE"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("start", "int", None, minimum=0, doc="the first channel taken, from 0"),
        ParamSpec("stop", "int", "end", doc="one past the last channel taken (end: the depth)"),
    )
    positionals = 2  # SLICE(0, 58)
    doc = "channels start to stop − 1 of the input, a view (ShuffleNetV2's channel split)"
    in_place = True  # a view of its input: no new activations

    def channels(self, args: Args, depth: int) -> tuple[int, int]:
        """(start, stop) on an input of ``depth`` channels."""
        stop = args["stop"]
        return integer(args, "start"), depth if stop == "end" else integer(args, "stop")

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        start, stop = self.channels(args, x[2])
        return x[0], x[1], stop - start

    def describe(self, args: Args) -> str:
        """``SLICE 0:58``, ``SLICE 58:``: Python's slice of the channels."""
        stop = args["stop"]
        return f"{self.name} {args['start']}:{'' if stop == 'end' else stop}"

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        channel_slice = kernels().channel_slice

        return channel_slice(call.array, *self.channels(args, x[2]))


class Shuffle(LayerType):
    name = "SHUFFLE"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("groups", "int", 2, doc="groups whose channels are interleaved"),
    )
    doc = "channel shuffle: the D/groups channels of each group interleaved (ShuffleNet)"
    frees_input = True  # a view, a transpose and a copy: autograd keeps nothing

    def describe(self, args: Args) -> str:
        """``SHUFFLE g2``"""
        return f"{self.name} g{args['groups']}"

    arena_output = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        channel_shuffle = kernels().channel_shuffle

        return channel_shuffle(call.array, integer(args, "groups"), call.arena)
