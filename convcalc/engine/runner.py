"""Runs the steps of a plan on arrays: a row's kernel (its layer type's ``run``, or a merge's),
or a fused CONV/FC step with the epilogues of the rows fused into it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..analysis.analyzer import Analysis
from ..analysis.plan import Plan, Step
from ..layers.base import Call
from ..layers.vocabulary import LAYERS
from . import kernels as K
from .weights import Prepared


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
        #: step -> the values it reads last (the last row's value lives on): found once,
        #: not by a scan of every value after every step
        self.dying: dict[int, list[int]] = {}
        last_value = p.value[len(self.rows) - 1]
        for v, last in p.last_read.items():
            if v != last_value:
                self.dying.setdefault(last, []).append(v)

    def layer(self, i: int) -> Any:
        """Row i on its own: its layer type's kernel, or its merge's."""
        row = self.rows[i]
        ins = [self.arrays[j] for j in row.inputs]
        merge = MERGE_KERNELS.get(row.type)
        if merge is not None:
            return merge(self, i, ins)
        layer = LAYERS[row.type]
        x = ins[0]
        out = None
        if layer.overwrites:  # into its input when nobody reads that any more
            out = x if i in self.plan.in_place else self.arena.take(x.shape, x.dtype)
        call = Call(x, self.params[i], self.arena, self.analysis.rounding, out)
        return layer.run(row.args, row.input_shapes[0], call)

    def add(self, i: int, ins: list[Any]) -> Any:
        """ADD: the sum of the inputs, into the one nobody reads any more if the plan says so."""
        row = self.rows[i]
        if i in self.plan.in_place:
            v = self.plan.value[i]
            k = next(n for n, j in enumerate(row.inputs) if self.plan.value[j] == v)
            target, rest = ins[k], ins[:k] + ins[k + 1 :]
        else:
            target = np.add(ins[0], ins[1], out=self.arena.take(ins[0].shape, ins[0].dtype))
            rest = ins[2:]
        for a in rest:
            np.add(target, a, out=target)
        return target

    def cat(self, i: int, ins: list[Any]) -> Any:
        """CAT: the inputs side by side along the depth. An input the layout computed into
        its place in the output (see ``plan.cat_views``) is already there: only the others
        are copied."""
        shape = (*ins[0].shape[:3], sum(a.shape[3] for a in ins))
        out = self.arena.take(shape, ins[0].dtype)
        channel = 0
        for a in ins:
            part = out[..., channel : channel + a.shape[3]]
            channel += a.shape[3]
            if not _same_view(a, part):
                np.copyto(part, a)
        return out

    def mul(self, i: int, ins: list[Any]) -> Any:
        """MUL: the product of the inputs, a (N, 1, 1, D) one broadcast over (N, H, W, D)."""
        w, h, d = self.rows[i].output
        return K.multiply(ins, out=self.arena.take((ins[0].shape[0], h, w, d), ins[0].dtype))

    def fused(self, step: Step, prepared: Prepared) -> Any:
        """A CONV or FC, then BN, activations and ADDs on each chunk of its output."""
        head = self.rows[step.rows[0]]
        extra = dict(step.extra)
        ops: list[K.Epilogue] = []
        for i in step.rows[1:]:
            if i in prepared.affine:  # a batch norm that could not be folded
                ops.append(_Affine(*prepared.affine[i]))
            elif i in extra:  # an ADD: the other operands' regions
                ops.extend(_add_region(self.arrays[j]) for j in extra[i])
            else:
                row, layer = self.rows[i], LAYERS[self.rows[i].type]
                neg = i == prepared.negated  # the weights and bias were negated for it
                op = layer.epilogue_of_negated(row.args) if neg else layer.epilogue(row.args)
                if op is not None:
                    ops.append(op)
        x = self.arrays[head.inputs[0]] if not step.before else self.source(step)
        params = prepared.params
        if step.before:
            params = {**params, "prologue": tuple(self.prologue(step))}
        call = Call(x, params, self.arena, self.analysis.rounding, epilogue=tuple(ops))
        return LAYERS[head.type].run(head.args, head.input_shapes[0], call)

    def source(self, step: Step) -> Any:
        """The array a step's prologue reads (the first prologue row's input)."""
        return self.arrays[self.rows[step.before[0]].inputs[0]]

    def prologue(self, step: Step) -> list[K.Epilogue]:
        """The step's prologue rows as in-place operations on a chunk of its head's input:
        a batch norm as scale and shift, a layer norm as its normalisation (its γ and β are
        in the head's weights, see ``weights.prepare``), an activation as its epilogue, a MUL
        as the product by its (N, 1, 1, C) gates."""
        dtype = self.source(step).dtype
        ops: list[K.Epilogue] = []
        for i in step.before:
            row = self.rows[i]
            if row.type == "MUL":  # the product by the gates, image by image
                ops.append(K.Gate([self.arrays[j] for j in row.inputs[1:]]))
                continue
            layer = LAYERS[row.type]
            found = layer.affine(row.args, self.params[i])
            if found is not None:
                ops.append(_Affine(found[0].astype(dtype), found[1].astype(dtype)))
                continue
            op = layer.prologue(row.args) or layer.epilogue(row.args)
            assert op is not None, row.type  # plan.prologues takes only such rows
            ops.append(op)
        return ops

    def release(self, s: int) -> None:
        """Give back the arrays whose last reader was step s."""
        for v in self.dying.get(s, ()):
            array = self.arrays.get(v)
            for j in self.members[v]:
                self.arrays.pop(j, None)
            if array is not None:
                self.arena.give(array)


#: The merges' kernels (merges have no class yet; the layer types answer through LAYERS).
MERGE_KERNELS: dict[str, Callable[[Runner, int, list[Any]], Any]] = {
    "ADD": Runner.add,
    "CAT": Runner.cat,
    "MUL": Runner.mul,
}


def _same_view(a: Any, b: Any) -> bool:
    """Whether two arrays are the same elements of the same memory."""
    return bool(
        a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )  # fmt: skip


class _Affine:
    """A batch norm as scale and shift, in place on a chunk; or, as the first operation of a
    prologue, from the input's chunk into the GEMM's (``into``: no copy first, one pass
    fewer over DenseNet's pre-activation inputs)."""

    def __init__(self, scale: Any, shift: Any) -> None:
        self.scale, self.shift = scale, shift

    def __call__(self, y: Any, region: tuple[slice, slice]) -> None:
        self.into(y, y, region)

    def into(self, a: Any, y: Any, region: tuple[slice, slice]) -> None:
        np.multiply(a, self.scale, out=y)
        np.add(y, self.shift, out=y)


def _add_region(other: Any) -> K.Epilogue:
    def op(y: Any, region: tuple[slice, slice]) -> None:
        np.add(y, other[region], out=y)

    return op
