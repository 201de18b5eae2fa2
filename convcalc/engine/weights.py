"""The weights of a pass: drawn for every row, then prepared one step at a time before the
clock starts (batch norms folded, Winograd's transformed filters, a grouped conv's
block-diagonal filters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..analysis.plan import Step, bias_column
from ..layers.base import integer
from ..layers.vocabulary import LAYERS
from ..records import Row, Shape
from . import kernels as K


def input_volume(row: Row) -> Shape:
    """The volume the row reads (its first input's), INPUT's own for the input row."""
    return row.input_shapes[0] if row.input_shapes else row.output


def winograd_tile(row: Row, batch: int) -> int:
    """The m of the Winograd F(m×m, 3×3) the row runs through, 0 if none (its layer type
    answers; see ``kernels.winograd_tile``)."""
    layer = LAYERS.get(row.type)
    return layer.winograd_tile(row.args, input_volume(row), row.output, batch) if layer else 0


def init_params(row: Row, rng: np.random.Generator, dtype: Any) -> dict[str, Any]:
    """He-initialised weights, zero biases; batch norm starts as PyTorch's (γ=1, β=0,
    running mean 0, running variance 1). Each layer type draws its own (merges have none)."""
    layer = LAYERS.get(row.type)
    if layer is None:
        return {}
    return layer.init_weights(row.args, input_volume(row), row.output, rng, dtype)


class Prepared(NamedTuple):
    """The weights of a CONV or FC step, ready for the pass."""

    #: the head's w and b, its Winograd filters ("winograd") or its block-diagonal grouped
    #: filters ("stacked", see ``kernels.block_diagonal``) if any, and whether w holds the
    #: bias as its last column ("bias_column", b then None)
    params: dict[str, Any]
    affine: dict[int, tuple[Any, Any]]  # a batch norm not folded in -> (scale, shift)
    #: the row whose ``epilogue_of_negated`` the step runs, its weights and bias negated; -1:
    #: none
    negated: int = -1


def prepare(rows: Sequence[Row], params: list[dict[str, Any]], step: Step, batch: int) -> Prepared:
    """Weights of a CONV or FC step, before the clock starts: a layer norm in its prologue
    folds its γ and β into them, a batch norm right after it is folded into its weights and
    bias, a later one becomes scale and shift, a 3×3 conv that Winograd does faster gets its
    transformed weights instead of its own, a grouped conv of more than one channel a group
    its block-diagonal weights, and a LINEAR after a layer norm its bias as a last column of
    its weights (``plan.bias_column``). A step whose first epilogue has a cheaper form on
    negated values (the SiLU, ``LayerType.epilogue_of_negated``) gets its weights negated. The
    step's entries in ``params`` are emptied (what they held lives on in the result)."""
    head = rows[step.rows[0]]
    w, b = params[step.rows[0]]["w"], params[step.rows[0]].get("b")
    for i in step.before:  # a layer norm's γ and β, after its normalisation in the prologue
        layer = LAYERS.get(rows[i].type)
        found = layer.input_affine(rows[i].args, params[i]) if layer is not None else None
        if found is not None:
            w, b = LAYERS[head.type].fold_input(w, b, *found)
            params[i] = {}
    affine: dict[int, tuple[Any, Any]] = {}
    folding, negated = True, -1
    for i in step.rows[1:]:
        row = rows[i]
        layer = LAYERS.get(row.type)
        if layer is not None and layer.passes_input:  # ID, DROPOUT
            continue
        found = layer.affine(row.args, params[i]) if layer is not None else None
        if found is None:  # an activation or an ADD: what follows is not folded
            if folding and layer is not None and layer.epilogue_of_negated(row.args) is not None:
                negated = i  # the first epilogue, on −(x·w + b)
            folding = False
            continue
        scale, shift = found
        params[i] = {}  # γ, β and the running statistics live on in w, b or affine
        if folding:  # (x·w + b)·scale + shift = x·(w·scale) + (b·scale + shift)
            LAYERS[head.type].scale_filters(w, scale)  # in place: w unfolded is not needed
            b = ((b.astype(np.float64) if b is not None else 0.0) * scale + shift).astype(w.dtype)
        else:
            affine[i] = (scale.astype(w.dtype), shift.astype(w.dtype))
    if negated >= 0:  # exact, and rounding is symmetric: the epilogue sees −(x·w + b) to the bit
        w = np.negative(w)
        b = np.negative(b) if b is not None else None
    column = bias_column(rows, step) and b is not None
    if column:  # the bias as w's last column, against the prologue's column of ones
        w = np.concatenate([w, np.asarray(b, w.dtype)[:, None]], axis=1)
        b = None
    winograd = stacked = None
    if m := winograd_tile(head, batch):
        winograd, w = K.winograd_weights(w, m), w[:0]
    elif (g := grouped(head)) > 1:
        stacked = K.block_diagonal(w, g, K.grouped_merge(g, w.shape[2]))
    params[step.rows[0]] = {}  # the unfolded weights can go
    ready = {"w": w, "b": b, "winograd": winograd, "stacked": stacked, "bias_column": column}
    return Prepared(ready, affine, negated)


def grouped(row: Row) -> int:
    """The groups of a CONV that ``kernels.grouped_gemm2d`` runs (more than one channel a
    group), else 1."""
    groups = integer(row.args, "groups") if row.type == "CONV" else 1
    return groups if 1 < groups < input_volume(row)[2] else 1
