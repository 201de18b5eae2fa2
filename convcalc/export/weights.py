"""The weights of a ``convcalc run --seed S`` pass, in PyTorch's layout and names.

``draw`` repeats what ``engine.forward`` draws from the seed (every row's parameters in
order, then the input batch), so the exported model and the NumPy pass start from the same
numbers. ``torch_state`` renames them as the generated module's state dict
(``conv1.weight``, ``bn1.running_var``) and transposes them from the kernels' layout:

- CONV: HWIO (FH, FW, D1/groups, K) → OIHW (K, D1/groups, FH, FW);
- TCONV: (D1, FH, FW, K/groups) → (D1, K/groups, FH, FW);
- LOCAL: (H2, W2, FH, FW, D1/groups, K) → (H2·W2, K, D1/groups·FH·FW), bias (K, H2, W2);
- FC on a W×H×D volume: columns from convcalc's (H, W, D) order to PyTorch's (D, H, W).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis.analyzer import Analysis
from ..engine import weights as engine_weights
from ..engine.forward import DTYPES
from ..engine.kernels import he_uniform
from ..records import Row


def draw(analysis: Analysis, seed: int, batch: int = 1) -> tuple[list[dict[str, Any]], Any]:
    """Every row's parameters and the input batch (N, H, W, D), as ``forward`` draws them."""
    dtype = np.dtype(DTYPES.get(analysis.spec.dtype, np.float32))
    rng = np.random.default_rng(seed)
    rows = analysis.rows
    params = [engine_weights.init_params(row, rng, dtype) for row in rows]
    w, h, d = rows[0].output
    return params, he_uniform(rng, (batch, h, w, d), 2, dtype)


def _fc_columns(w: Any, row: Row) -> Any:
    """FC weights (K, H·W·D) in (H, W, D) order → (K, D·H·W) in PyTorch's flatten order."""
    wd, ht, d = row.input_shapes[0]
    k = w.shape[0]
    return np.ascontiguousarray(w.reshape(k, ht, wd, d).transpose(0, 3, 1, 2).reshape(k, -1))


def torch_layout(row: Row, params: dict[str, Any]) -> dict[str, Any]:
    """One row's parameters under PyTorch's names, in PyTorch's layout."""
    t = row.type
    out: dict[str, Any] = {}
    if t in ("CONV", "TCONV", "LOCAL", "FC", "LINEAR"):
        w = params["w"]
        if t == "CONV":
            w = w.transpose(3, 2, 0, 1)
        elif t == "TCONV":
            w = w.transpose(0, 3, 1, 2)
        elif t == "LOCAL":
            h2, w2, fh, fw, cg, k = w.shape
            w = w.transpose(0, 1, 5, 4, 2, 3).reshape(h2 * w2, k, cg * fh * fw)
        elif t == "FC":
            w = _fc_columns(w, row)
        out["weight"] = w
        if "b" in params:
            b = params["b"]
            out["bias"] = b.transpose(2, 0, 1) if t == "LOCAL" else b
    elif t == "BN":
        out = {"weight": params["gamma"], "bias": params["beta"],
               "running_mean": params["mean"], "running_var": params["var"]}  # fmt: skip
    elif t == "LN":
        out = {"weight": params["gamma"], "bias": params["beta"]}
    elif t == "SCALE":
        out = {"gamma": params["gamma"]}
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def torch_state(
    analysis: Analysis, params: Sequence[dict[str, Any]], names: Sequence[str]
) -> dict[str, Any]:
    """The generated module's state dict (BN's num_batches_tracked aside), row by row."""
    state: dict[str, Any] = {}
    for row, p, name in zip(analysis.rows, params, names, strict=True):
        for key, value in torch_layout(row, p).items():
            state[f"{name}.{key}"] = value
    return state


def npz_bytes(state: dict[str, Any]) -> bytes:
    """The state as an uncompressed .npz (what ``np.savez`` writes), one array per name."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    return buffer.getvalue()
