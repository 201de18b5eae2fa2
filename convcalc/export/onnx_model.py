"""An analysed spec as an ONNX model (opset 20) with the weights of ``convcalc run --seed``.

Each row becomes one node (or a few), whose output carries the row's name (``conv1``,
``skip1.conv``) and whose ``doc_string`` is the row's layer in the arrow grammar, so that
``convcalc import`` gives the rows back where ONNX spells a layer in several operators
(SILU as Sigmoid and Mul, LN between two Transposes, an APOOL whose bins differ in size as
slices). Initializers are named as the PyTorch module's state dict (``conv1.weight``) and
hold ``weights.torch_layout``'s arrays. Tensors are NCHW with a symbolic batch ``N``; after an
FC or FLATTEN they are (N, K), as PyTorch's exporter leaves them.

ONNX has no locally connected layer: a LOCAL row is an :class:`ExportError` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..analysis.analyzer import Analysis
from ..engine.kernels import adaptive_bins
from ..layers.base import integer, pair, real
from ..layers.vocabulary import LAYERS
from ..layers.windowed import Conv
from ..records import Row
from .torch_source import ExportError
from .weights import draw, torch_layout

__all__ = ["OPSET", "ExportError", "onnx_bytes", "onnx_model"]

OPSET = 20
_UNARY = {"RELU": "Relu", "SIGMOID": "Sigmoid", "TANH": "Tanh", "HSWISH": "HardSwish",
          "GELU": "Gelu", "ID": "Identity", "SKIP": "Identity", "DROPPATH": "Identity",
          "DROPOUT": "Identity", "GAP": "GlobalAveragePool"}  # fmt: skip


class _Graph:
    """The nodes and initializers being written, and a counter for helper value names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def tmp(self, row: str, what: str) -> str:
        self.count += 1
        return f"{row}/{what}{self.count}"

    def node(self, op: str, ins: Sequence[str], out: str, name: str, doc: str = "",
             **attrs: Any) -> str:  # fmt: skip
        n = helper.make_node(op, list(ins), [out], name=name, **attrs)
        if doc:
            n.doc_string = doc
        self.nodes.append(n)
        return out


def _pads(row: Row) -> list[int]:
    """ONNX's [top, left, bottom, right] of a CONV or POOL row."""
    layer = LAYERS[row.type]
    assert isinstance(layer, Conv)
    wa, ha = layer.axes(row.args, row.input_shapes[0])
    return [ha.before, wa.before, ha.after, wa.after]


def _hw(row: Row, key: str) -> list[int]:
    w, h = pair(row.args, key)
    return [h, w]


def _layer_text(row: Row) -> str:
    """The row as the arrow grammar writes it: ``CONV(64, F=(3, 3), ...)@conv1``."""
    if row.type == "SLICE":  # positional only: SLICE(0, 58), SLICE(58) to the end
        stop = row.args["stop"]
        return f"SLICE({row.args['start']}{'' if stop == 'end' else f', {stop}'})"
    parts = []
    for key, value in row.args.items():
        shown = f"({value[0]}, {value[1]})" if isinstance(value, tuple) else value
        shown = str(shown).lower() if isinstance(value, bool) else shown
        parts.append(f"{key}={shown}")
    return f"{row.type}({', '.join(parts)})" if parts else row.type


def _apool(g: _Graph, row: Row, x: str, out: str) -> None:
    """PyTorch's adaptive pooling: a pool when the bins are equal, else one slice per bin."""
    (w, h, _), (ow, oh) = row.input_shapes[0], pair(row.args, "out")
    kind, doc = row.args["type"], _layer_text(row)
    if w % ow == 0 and h % oh == 0:
        op = "MaxPool" if kind == "max" else "AveragePool"
        g.node(op, [x], out, row.name, doc, kernel_shape=[h // oh, w // ow],
               strides=[h // oh, w // ow])  # fmt: skip
        return
    reduce = "ReduceMax" if kind == "max" else "ReduceMean"
    axes = g.const(g.tmp(row.name, "axes"), [2, 3], np.int64)
    slice_axes = g.const(g.tmp(row.name, "axes"), [2, 3], np.int64)
    lines = []
    for i, (top, bottom) in enumerate(adaptive_bins(h, oh)):
        cells = []
        for j, (left, right) in enumerate(adaptive_bins(w, ow)):
            starts = g.const(g.tmp(row.name, "starts"), [top, left], np.int64)
            ends = g.const(g.tmp(row.name, "ends"), [bottom, right], np.int64)
            part = g.node("Slice", [x, starts, ends, slice_axes], g.tmp(row.name, "bin"),
                          f"{row.name}/bin{i}_{j}")  # fmt: skip
            cells.append(g.node(reduce, [part, axes], g.tmp(row.name, "cell"),
                                f"{row.name}/cell{i}_{j}", keepdims=1))  # fmt: skip
        lines.append(g.node("Concat", cells, g.tmp(row.name, "line"), f"{row.name}/line{i}",
                            axis=3))  # fmt: skip
    g.node("Concat", lines, out, row.name, doc, axis=2)


def _row(
    g: _Graph, row: Row, ins: list[str], rank: int, params: dict[str, Any], rounding: str
) -> None:
    """The nodes of one row, reading ``ins`` and writing the value named as the row."""
    t, a, out, name, doc = row.type, row.args, row.name, row.name, _layer_text(row)
    x = ins[0] if ins else ""
    arrays = torch_layout(row, params)
    if t == "LINEAR":  # a 1×1 convolution: torch's Linear at every position
        arrays["weight"] = arrays["weight"].reshape(*arrays["weight"].shape, 1, 1)
    elif t == "SCALE":
        arrays["gamma"] = arrays["gamma"].reshape(-1, 1, 1) if rank == 4 else arrays["gamma"]
    weights = {k: g.const(f"{name}.{k}", v) for k, v in arrays.items()}
    wb = [weights.get("weight", ""), *([weights["bias"]] if "bias" in weights else [])]
    if t == "LINEAR":
        g.node("Conv", [x, *wb], out, name, doc, kernel_shape=[1, 1])
    elif t == "CONV":
        g.node("Conv", [x, *wb], out, name, doc, kernel_shape=_hw(row, "F"),
               strides=_hw(row, "S"), pads=_pads(row), dilations=_hw(row, "dilation"),
               group=integer(a, "groups"))  # fmt: skip
    elif t == "TCONV":
        ph, pw = _hw(row, "P")
        g.node("ConvTranspose", [x, *wb], out, name, doc, kernel_shape=_hw(row, "F"),
               strides=_hw(row, "S"), pads=[ph, pw, ph, pw], dilations=_hw(row, "dilation"),
               output_padding=_hw(row, "out_pad"), group=integer(a, "groups"))  # fmt: skip
    elif t == "LOCAL":
        raise ExportError(
            f"{name}: ONNX has no locally connected operator for LOCAL; nothing was written "
            "(export --to torch writes it as LocallyConnected2d)"
        )
    elif t == "POOL":
        ceil = int(LAYERS[t].rounds_up(a, rounding))
        kw = {"kernel_shape": _hw(row, "F"), "strides": _hw(row, "S"), "pads": _pads(row),
              "ceil_mode": ceil}  # fmt: skip
        if a["type"] == "max":
            g.node("MaxPool", [x], out, name, doc, **kw)
        elif a["type"] == "avg":
            g.node("AveragePool", [x], out, name, doc, count_include_pad=1, **kw)
        else:
            g.node("LpPool", [x], out, name, doc, p=2, **kw)
    elif t == "APOOL":
        _apool(g, row, x, out)
    elif t == "FC":
        flat = x
        if rank == 4:
            flat = g.node("Flatten", [x], g.tmp(name, "flat"), f"{name}/flatten", axis=1)
        g.node("Gemm", [flat, *wb], out, name, doc, transB=1)
    elif t == "BN":
        bn = [weights[k] for k in ("weight", "bias", "running_mean", "running_var")]
        g.node("BatchNormalization", [x, *bn], out, name, doc, epsilon=real(a, "eps"))  # fmt: skip
    elif t == "LN":
        ln = [weights["weight"], weights["bias"]]
        if rank == 2:
            g.node("LayerNormalization", [x, *ln], out, name, doc,
                   axis=-1, epsilon=real(a, "eps"))  # fmt: skip
            return
        last = g.node("Transpose", [x], g.tmp(name, "nhwc"), f"{name}/nhwc", perm=[0, 2, 3, 1])
        normed = g.node("LayerNormalization", [last, *ln],
                        g.tmp(name, "normed"), f"{name}/norm", axis=-1,
                        epsilon=real(a, "eps"))  # fmt: skip
        g.node("Transpose", [normed], out, name, doc, perm=[0, 3, 1, 2])
    elif t == "SCALE":
        g.node("Mul", [x, weights["gamma"]], out, name, doc)
    elif t in _UNARY:
        g.node(_UNARY[t], [x], out, name, doc)
    elif t == "LRELU":
        g.node("LeakyRelu", [x], out, name, doc, alpha=real(a, "slope"))
    elif t == "ELU":
        g.node("Elu", [x], out, name, doc, alpha=real(a, "alpha"))
    elif t == "RELU6":
        low, high = g.const(f"{name}/min", 0.0), g.const(f"{name}/max", 6.0)
        g.node("Clip", [x, low, high], out, name, doc)
    elif t == "HSIGMOID":
        g.node("HardSigmoid", [x], out, name, doc, alpha=1 / 6, beta=0.5)
    elif t in ("SILU", "SWISH"):
        s = g.node("Sigmoid", [x], g.tmp(name, "sigmoid"), f"{name}/sigmoid")
        g.node("Mul", [x, s], out, name, doc)
    elif t == "SOFTMAX":
        g.node("Softmax", [x], out, name, doc, axis=1)
    elif t == "LRN":
        size = integer(a, "size")
        if size % 2 == 0:
            raise ExportError(f"{name}: ONNX's LRN centres an even window of {size} channels "
                              "one channel later than PyTorch's and convcalc's")  # fmt: skip
        g.node("LRN", [x], out, name, doc, size=size, alpha=real(a, "alpha"),
               beta=real(a, "beta"), bias=real(a, "k"))  # fmt: skip
    elif t == "FLATTEN":
        if row.input_shapes[0][:2] != (1, 1) and rank == 4:  # convcalc's (H, W, D) order
            x = g.node("Transpose", [x], g.tmp(name, "nhwc"), f"{name}/nhwc", perm=[0, 2, 3, 1])
        g.node("Flatten", [x], out, name, doc, axis=1)
    elif t == "UP":
        n = float(integer(a, "n"))
        scales = g.const(f"{name}/scales", [1.0, 1.0, n, n])
        g.node("Resize", [x, "", scales], out, name, doc, mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # fmt: skip
    elif t == "SLICE":
        d = row.input_shapes[0][2]
        stop = d if a["stop"] == "end" else integer(a, "stop")
        starts = g.const(f"{name}/starts", [integer(a, "start")], np.int64)
        ends = g.const(f"{name}/ends", [stop], np.int64)
        g.node("Slice", [x, starts, ends, g.const(f"{name}/axes", [1], np.int64)], out, name, doc)
    elif t == "SHUFFLE":
        groups, (w, h, d) = integer(a, "groups"), row.input_shapes[0]
        split = g.const(f"{name}/split", [0, groups, d // groups, h, w], np.int64)
        back = g.const(f"{name}/merge", [0, d, h, w], np.int64)
        five = g.node("Reshape", [x, split], g.tmp(name, "groups"), f"{name}/split")
        swapped = g.node("Transpose", [five], g.tmp(name, "swap"), f"{name}/transpose",
                         perm=[0, 2, 1, 3, 4])  # fmt: skip
        g.node("Reshape", [swapped, back], out, name, doc)
    elif t == "ADD":
        g.node("Sum" if len(ins) > 2 else "Add", ins, out, name, doc)
    elif t == "MUL":
        value = ins[0]
        for k, other in enumerate(ins[1:], 1):
            end = k == len(ins) - 1
            value = g.node("Mul", [value, other], out if end else g.tmp(name, "mul"),
                           name if end else f"{name}/mul{k}", doc if end else "")  # fmt: skip
    elif t == "CAT":
        g.node("Concat", ins, out, name, doc, axis=1)
    else:
        raise ExportError(f"{name}: ONNX has no operator that convcalc maps {t} to")


def onnx_model(analysis: Analysis, seed: int = 0) -> Any:
    """The ``onnx.ModelProto`` of the analysed network with the weights of ``seed``."""
    rows = analysis.rows
    params, _ = draw(analysis, seed)
    g = _Graph()
    rank = [4] * len(rows)
    value = [row.name for row in rows]
    value[0] = "input"
    anyrank = {"FC", "BN", "LN", "SCALE", "SOFTMAX", "FLATTEN", "SLICE", "ADD", "MUL",
               "DROPOUT", "DROPPATH", "ID", "SKIP", "RELU", "RELU6", "LRELU", "ELU", "GELU",
               "SIGMOID", "TANH", "HSWISH", "HSIGMOID", "SILU", "SWISH"}  # fmt: skip
    for i, row in enumerate(rows[1:], 1):
        ins = [value[j] for j in row.inputs]
        ranks = [rank[j] for j in row.inputs]
        if 2 in ranks and (row.type not in anyrank or len(set(ranks)) > 1):
            shape = g.const(g.tmp(row.name, "shape4"), [0, -1, 1, 1], np.int64)
            ins = [g.node("Reshape", [v, shape], g.tmp(row.name, "nchw"), g.tmp(row.name, "nchw"))
                   if r == 2 else v for v, r in zip(ins, ranks, strict=True)]  # fmt: skip
            ranks = [4] * len(ins)
        _row(g, row, ins, ranks[0] if ranks else 4, params[i], analysis.rounding)
        rank[i] = 2 if row.type in ("FC", "FLATTEN") else (ranks[0] if ranks else 4)
    w, h, d = rows[0].output
    ow, oh, od = rows[-1].output
    out_shape: list[Any] = ["N", od, oh, ow] if rank[-1] == 4 else ["N", od]
    graph = helper.make_graph(
        g.nodes, _graph_name(analysis.spec.name),
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", d, h, w])],
        [helper.make_tensor_value_info(value[-1], TensorProto.FLOAT, out_shape)],
        initializer=g.inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="convcalc")  # fmt: skip
    model.ir_version = 9
    # what the rows need beyond the layers: Caffe's rounding makes every POOL ceil
    helper.set_model_props(model, {"convcalc.rounding": analysis.rounding})
    model.doc_string = f"{analysis.spec.name}, exported by convcalc from {analysis.spec.path}"
    return model


def _graph_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "network"


def onnx_bytes(analysis: Analysis, seed: int = 0) -> bytes:
    """The serialized model, checked with ``onnx.checker`` before it is returned."""
    model = onnx_model(analysis, seed)
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data
