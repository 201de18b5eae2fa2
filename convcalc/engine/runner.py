"""Runs the steps of a plan on arrays: a kernel per row, or a fused CONV/FC step with its
epilogues."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.analyzer import Analysis
from ..layers.base import hw, integer, real
from ..layers.vocabulary import LAYERS
from ..records import Row
from . import kernels as K
from .plan import ACTIVATIONS, ALIASES, Plan, Step


def _activation(row: Row, x: Any, out: Any) -> Any:
    kind, args = row.type, row.args
    if kind == "RELU":
        return K.relu(x, out=out)
    if kind == "LRELU":
        return K.leaky_relu(x, real(args, "slope"), out=out)
    if kind == "ELU":
        return K.elu(x, real(args, "alpha"), out=out)
    if kind == "GELU":
        return K.gelu(x, out=out)
    if kind == "SIGMOID":
        return K.sigmoid(x, out=out)
    if kind == "TANH":
        return K.tanh(x, out=out)
    return K.softmax(x, out=out)


class Runner:
    """Runs the steps of a plan on arrays; one instance per pass."""

    def __init__(self, analysis: Analysis, p: Plan, params: list[dict[str, Any]]) -> None:
        self.analysis = analysis
        self.rows = analysis.rows
        self.plan = p
        self.params = params
        self.arena = K.Arena()
        self.arrays: dict[int, Any] = {}  # row -> array
        self.members: dict[int, list[int]] = {}  # value -> its rows
        for j, v in enumerate(p.value):
            self.members.setdefault(v, []).append(j)

    def layer(self, i: int) -> Any:
        row = self.rows[i]
        kind, args = row.type, row.args
        ins = [self.arrays[j] for j in row.inputs]
        x: Any = ins[0] if ins else None
        p = self.params[i]
        arena = self.arena
        if kind in ALIASES:
            if kind == "FLATTEN":
                return x.reshape(x.shape[0], 1, 1, -1)
            return x
        if kind in ("CONV", "LOCAL", "POOL"):
            a = LAYERS[kind].axes(args, row.input_shapes[0])
            assert a is not None
            pads = ((a[1].before, a[1].after), (a[0].before, a[0].after))
            if kind == "POOL":
                ceil = bool(args["ceil"]) or self.analysis.rounding == "caffe"
                return K.pool2d(
                    x, hw(args, "F"), stride=hw(args, "S"), pad=pads, kind=str(args["type"]),
                    ceil=ceil, arena=arena,
                )  # fmt: skip
            conv = K.conv2d if kind == "CONV" else K.local2d
            return conv(
                x, p["w"], p.get("b"), stride=hw(args, "S"), pad=pads,
                dilation=hw(args, "dilation"), groups=integer(args, "groups"), arena=arena,
            )  # fmt: skip
        if kind == "TCONV":
            return K.conv_transpose2d(
                x, p["w"], p.get("b"), stride=hw(args, "S"), pad=hw(args, "P"),
                out_pad=hw(args, "out_pad"), dilation=hw(args, "dilation"),
                groups=integer(args, "groups"), arena=arena,
            )  # fmt: skip
        if kind == "FC":
            return K.fully_connected(x, p["w"], p.get("b"))
        if kind == "GAP":
            return K.global_avg_pool(x)
        out = x if i in self.plan.in_place else None
        if kind in ACTIVATIONS:
            if out is None:
                out = arena.take(x.shape, x.dtype)
            return _activation(row, x, out)
        if kind == "BN":
            if out is None:
                out = arena.take(x.shape, x.dtype)
            return K.batchnorm(
                x, p["gamma"], p["beta"], p["mean"], p["var"], real(args, "eps"), out
            )
        if kind == "LRN":
            k_ = real(args, "k")
            return K.lrn(x, integer(args, "size"), real(args, "alpha"), real(args, "beta"), k_)
        if kind == "UP":
            return K.upsample_nearest(x, integer(args, "n"))
        if kind == "ADD":
            if i in self.plan.in_place:  # into the input that nobody reads any more
                v = self.plan.value[i]
                k = next(n for n, j in enumerate(row.inputs) if self.plan.value[j] == v)
                target, rest = ins[k], ins[:k] + ins[k + 1 :]
            else:
                target = np.add(ins[0], ins[1], out=arena.take(ins[0].shape, ins[0].dtype))
                rest = ins[2:]
            for a in rest:
                np.add(target, a, out=target)
            return target
        if kind == "CAT":
            shape = (*ins[0].shape[:3], sum(a.shape[3] for a in ins))
            return np.concatenate(ins, axis=3, out=arena.take(shape, ins[0].dtype))
        # forward() refuses such rows before the pass
        raise ValueError(f"{row.name}: the forward pass cannot compute {kind} layers")

    def fused(self, step: Step, prepared: dict[str, Any]) -> Any:
        """A CONV or FC, then BN, activations and ADDs on each chunk of its output."""
        head = self.rows[step.rows[0]]
        ops: list[K.Epilogue] = []
        for i in step.rows[1:]:
            row = self.rows[i]
            if row.type == "BN":
                if i in prepared["affine"]:
                    sc, sh = prepared["affine"][i]
                    ops.append(_affine(sc, sh))
            elif row.type == "ADD":
                for v in dict(step.extra)[i]:
                    other = self.arrays[v]
                    ops.append(_add_region(other))
            elif row.type in ACTIVATIONS:
                ops.append(_in_place(row))
        x = self.arrays[head.inputs[0]]
        w, b = prepared["w"], prepared["b"]
        if head.type == "FC":
            return K.fully_connected(x, w, b, epilogue=ops)
        args = head.args
        a = LAYERS["CONV"].axes(args, head.input_shapes[0])
        assert a is not None
        pads = ((a[1].before, a[1].after), (a[0].before, a[0].after))
        return K.conv2d(
            x, w, b, stride=hw(args, "S"), pad=pads, dilation=hw(args, "dilation"),
            groups=integer(args, "groups"), epilogue=ops, arena=self.arena,
            winograd=prepared["winograd"],
        )  # fmt: skip

    def release(self, s: int) -> None:
        """Give back the arrays whose last reader was step s."""
        last_value = self.plan.value[len(self.rows) - 1]
        dead = [v for v, last in self.plan.last_read.items() if last == s and v != last_value]
        for v in dead:
            array = self.arrays.get(v)
            for j in self.members[v]:
                self.arrays.pop(j, None)
            if array is not None:
                self.arena.give(array)


def _affine(scale: Any, shift: Any) -> K.Epilogue:
    def op(y: Any, region: tuple[slice, slice]) -> None:
        np.multiply(y, scale, out=y)
        np.add(y, shift, out=y)

    return op


def _add_region(other: Any) -> K.Epilogue:
    def op(y: Any, region: tuple[slice, slice]) -> None:
        np.add(y, other[region], out=y)

    return op


def _in_place(row: Row) -> K.Epilogue:
    if row.type == "RELU":
        return K.RELU

    def op(y: Any, region: tuple[slice, slice]) -> None:
        _activation(row, y, y)

    return op
