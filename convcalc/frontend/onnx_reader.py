"""An ONNX model as a spec: ``convcalc check model.onnx`` and ``convcalc import``.

The model's graph becomes a spec in the arrow grammar (``spec_text``), which then goes the
YAML path like any spec: the reader produces what a spec file holds, and everything after
(expansion, analysis, rules, reports, ``run``) is the same. Each operator maps to a layer
(``_layer``); a few layers that ONNX spells in several operators are recognised as patterns
(Flatten before Gemm is the FC's own flattening, x·Sigmoid(x) is SILU, MatMul then Add of a
constant is FC, Reshape–Transpose–Reshape is SHUFFLE, Transposes around LayerNormalization
are LN); operators that only compute shapes (Shape, Gather, Constant, ...) are not layers.
A model ``convcalc export --to onnx`` wrote names each node after its row and keeps the row's
layer in the node's ``doc_string``: those are read back as they were.

Bounded like the YAML path: the file's size (``MAX_ONNX_BYTES``) before it is read, and the
number of nodes (``limits.MAX_LAYERS``) before any is translated. onnx (and NumPy) are
imported only when an .onnx file is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import Finding, Location
from ..rules.catalogue import finding

#: The largest .onnx file read (protobuf's own limit for one message is 2 GiB).
MAX_ONNX_BYTES = 2 << 30
#: Operators that only compute shapes or constants: never a layer.
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Constant", "ConstantOfShape", "Cast",
             "Range", "Size", "Equal", "Where", "Expand"}  # fmt: skip
_ACTIVATIONS = {"Relu": "RELU", "Sigmoid": "SIGMOID", "Tanh": "TANH", "HardSwish": "HSWISH",
                "Gelu": "GELU", "Identity": "ID"}  # fmt: skip


def _np() -> Any:
    import numpy as np

    return np


#: The arithmetic PyTorch's exporter writes for sizes computed from shapes (chunk, view).
_SHAPE_MATH: dict[str, Callable[[list[Any], dict[str, Any]], Any]] = {
    "Shape": lambda x, a: None,  # see _Reader._evaluate
    "Gather": lambda x, a: _np().take(x[0], x[1], axis=int(a.get("axis", 0))),
    "Unsqueeze": lambda x, a: _np().expand_dims(x[0], tuple(int(v) for v in (
        x[1] if len(x) > 1 else a["axes"]))),
    "Squeeze": lambda x, a: _np().squeeze(x[0]),
    "Concat": lambda x, a: _np().concatenate([_np().atleast_1d(v) for v in x],
                                             axis=int(a.get("axis", 0))),
    "Cast": lambda x, a: x[0],
    "Add": lambda x, a: x[0] + x[1],
    "Sub": lambda x, a: x[0] - x[1],
    "Mul": lambda x, a: x[0] * x[1],
    "Div": lambda x, a: x[0] // x[1] if x[0].dtype.kind in "iu" else x[0] / x[1],
}  # fmt: skip


class _Problem(Exception):
    """An operator or pattern that has no layer: a CC130 finding."""


def _ints(attrs: dict[str, Any], key: str, default: Sequence[int]) -> list[int]:
    value = attrs.get(key)
    return [int(v) for v in value] if value is not None else list(default)


def _pair(hw: Sequence[int]) -> str:
    """ONNX's (height, width) as convcalc's value: ``3``, or ``(w, h)``."""
    h, w = int(hw[0]), int(hw[1])
    return str(w) if w == h else f"({w}, {h})"


def _padding(attrs: dict[str, Any], node: str) -> str:
    """ONNX's pads [top, left, bottom, right] as P: symmetric only."""
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise _Problem(f"{node}: auto_pad={attrs['auto_pad']!r}; export with explicit pads")
    t, left, b, r = _ints(attrs, "pads", (0, 0, 0, 0))
    if (t, left) != (b, r):
        raise _Problem(f"{node}: asymmetric pads {[t, left, b, r]}: convcalc pads symmetrically")
    return _pair((t, left))


class _Reader:
    """One model's graph, translated node by node."""

    def __init__(self, model: Any, file: str) -> None:
        from onnx import numpy_helper, shape_inference

        self.file = file
        self.graph = model.graph
        self.numpy_helper = numpy_helper
        self.inits = {t.name: t for t in self.graph.initializer}
        self.consts: dict[str, Any] = {}
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for v in node.output:
                self.producer[v] = node
            for v in node.input:
                self.consumers.setdefault(v, []).append(node)
        try:
            inferred = shape_inference.infer_shapes(model, data_prop=True).graph
            infos = [*inferred.input, *inferred.value_info, *inferred.output]
        except Exception:  # inference is a help for Split and Slice, not a requirement
            infos = [*self.graph.input, *self.graph.value_info, *self.graph.output]
        self.shapes: dict[str, list[int]] = {}
        for info in infos:
            dims = info.type.tensor_type.shape.dim
            self.shapes[info.name] = [d.dim_value if d.HasField("dim_value") else 0 for d in dims]
        self.ours = model.producer_name == "convcalc"
        self.findings: list[Finding] = []
        self.folded: list[str] = []
        self.known: dict[str, bool] = {}  # CONV nodes whose weights look like a BN folded in

    # -- constants -------------------------------------------------------------------------

    def const(self, name: str) -> Any:
        """The value of an initializer or a Constant node's output; None if computed."""
        import numpy as np

        if name in self.consts:
            return self.consts[name]
        if name in self.inits:
            value = self.numpy_helper.to_array(self.inits[name])
        elif name in self.producer and self.producer[name].op_type == "Constant":
            node = self.producer[name]
            attr = next((a for a in node.attribute if a.name == "value"), None)
            if attr is None:
                return None
            value = self.numpy_helper.to_array(attr.t)
        elif name in self.producer and self.producer[name].op_type in _SHAPE_MATH:
            value = self._evaluate(self.producer[name])
            if value is None:
                return None
        else:
            return None
        self.consts[name] = np.asarray(value)
        return self.consts[name]

    def _evaluate(self, node: Any) -> Any:
        """A shape computation (``x.shape[1] // 2``) from static shapes and constants."""
        import numpy as np

        if node.op_type == "Shape":
            dims = self.shapes.get(node.input[0], [])
            return np.array(dims, np.int64) if dims and min(dims) > 0 else None
        args = [self.const(v) if v else None for v in node.input]
        if any(a is None for a, v in zip(args, node.input, strict=True) if v):
            return None
        a = self.attrs(node)
        try:
            return _SHAPE_MATH[node.op_type](args, a)
        except (ValueError, IndexError, TypeError, ZeroDivisionError):
            return None

    def dims(self, name: str) -> list[int]:
        """An initializer's dimensions, without reading its data."""
        if name in self.inits:
            return list(self.inits[name].dims)
        value = self.const(name)
        return list(value.shape) if value is not None else []

    def is_const(self, name: str) -> bool:
        """Whether a value is known before the input is: a weight, or computed from shapes
        and constants only (memoised: a walk per value would be quadratic)."""
        if not name or name in self.inits:
            return True
        if name in self.known:
            return self.known[name]
        node = self.producer.get(name)
        self.known[name] = False  # a cycle in a malformed graph is not constant
        self.known[name] = node is not None and (
            node.op_type in SHAPE_OPS or all(self.is_const(v) for v in node.input)
        ) and node.op_type not in ("Conv", "Gemm", "MatMul")  # fmt: skip
        return self.known[name]

    def attrs(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def problem(self, message: str, help: str | None = None) -> None:
        self.findings.append(finding("CC130", message, Location(self.file), help=help))


def _label(node: Any, taken: set[str]) -> str:
    """A label from the node's name, the module's path in PyTorch's export:
    ``/layer1/layer1.0/downsample/downsample.0/Conv`` → ``layer1.0.downsample.0``."""
    parts = [p for p in node.name.strip("/").split("/") if p]
    if len(parts) > 1 and parts[-1].split("_")[0] == node.op_type:
        parts = parts[:-1]
    text, previous = "", ""
    for part in parts:
        if previous and part.startswith(previous + "."):
            text = text[: len(text) - len(previous)] + part
        else:
            text = f"{text}.{part}" if text else part
        previous = part
    text = "".join(c if c.isalnum() or c in "_." else "_" for c in text).strip("._")
    if not text or not (text[0].isalpha() or text[0] == "_"):
        return ""
    base, n = text, 1
    while text in taken:
        n += 1
        text = f"{base}_{n}"
    taken.add(text)
    return text


def real(value: Any) -> str:
    """A float attribute as the float32 it is: 1e-05, not 9.999999747378752e-06."""
    return repr(float(format(float(value), ".7g")))


Translate = Callable[[_Reader, Any, dict[str, Any]], str]


def _conv(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    dims = r.dims(node.input[1])
    if len(dims) != 4:
        raise _Problem(f"{node.name or node.op_type}: a {len(dims) - 2}-D convolution")
    groups = int(a.get("group", 1))
    transposed = node.op_type == "ConvTranspose"
    k = dims[1] * groups if transposed else dims[0]
    kernel = _ints(a, "kernel_shape", dims[2:])
    args = [str(k), f"F={_pair(kernel)}"]
    if (stride := _ints(a, "strides", (1, 1))) != [1, 1]:
        args.append(f"S={_pair(stride)}")
    pad = _padding(a, node.name or node.op_type)
    if pad != "0":
        args.append(f"P={pad}")
    if transposed and (out_pad := _ints(a, "output_padding", (0, 0))) != [0, 0]:
        args.append(f"out_pad={_pair(out_pad)}")
    if transposed and "output_shape" in a:
        raise _Problem(f"{node.name}: ConvTranspose with output_shape; export with pads")
    if (dilation := _ints(a, "dilations", (1, 1))) != [1, 1]:
        args.append(f"dilation={_pair(dilation)}")
    if groups != 1:
        args.append(f"groups={groups}")
    if len(node.input) < 3 or not node.input[2]:
        args.append("bias=false")
    elif not transposed and node.input[1].startswith("onnx::Conv_"):
        r.folded.append(node.name or node.output[0])
    return f"{'TCONV' if transposed else 'CONV'}({', '.join(args)})"


def _pool(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    kernel = _ints(a, "kernel_shape", ())
    if len(kernel) != 2:
        raise _Problem(f"{node.name or node.op_type}: a pool over {len(kernel)} axes")
    stride = _ints(a, "strides", (1, 1))
    args = [f"F={_pair(kernel)}", f"S={_pair(stride)}"]
    pad = _padding(a, node.name or node.op_type)
    if pad != "0":
        args.append(f"P={pad}")
    kind = {"MaxPool": "max", "AveragePool": "avg", "LpPool": "l2"}[node.op_type]
    if kind == "l2" and int(a.get("p", 2)) != 2:
        raise _Problem(f"{node.name}: LpPool with p={a['p']}; convcalc pools L2 only")
    if kind != "max":
        args.append(f"type={kind}")
    if a.get("ceil_mode"):
        args.append("ceil=true")
    return f"POOL({', '.join(args)})"


def _gemm(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    if float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0 or a.get("transA"):
        raise _Problem(f"{node.name}: Gemm with alpha, beta or transA; convcalc's FC is x·Wᵀ + b")
    dims = r.dims(node.input[1])
    if len(dims) != 2:
        raise _Problem(f"{node.name}: Gemm whose weights are not a constant matrix")
    k = dims[0] if a.get("transB") else dims[1]
    bias = len(node.input) > 2 and node.input[2] != ""
    return f"FC({k}{'' if bias else ', bias=false'})"


def _simple(op: str) -> Translate:
    return lambda r, node, a: op


def _clip(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    low = r.const(node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("min")
    high = r.const(node.input[2]) if len(node.input) > 2 and node.input[2] else a.get("max")
    low = None if low is None else float(low)
    high = None if high is None else float(high)
    if low == 0.0 and high == 6.0:
        return "RELU6"
    if low == 0.0 and high is None:
        return "RELU"
    raise _Problem(f"{node.name}: Clip({low}, {high}) is neither RELU nor RELU6")


def _hard_sigmoid(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    if abs(float(a.get("alpha", 0.2)) - 1 / 6) > 1e-6 or float(a.get("beta", 0.5)) != 0.5:
        raise _Problem(f"{node.name}: HardSigmoid(alpha={a.get('alpha', 0.2)}) is not x/6 + 1/2")
    return "HSIGMOID"


def _softmax(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    rank = len(r.shapes.get(node.input[0], [])) or 4
    if int(a.get("axis", -1)) % rank != 1:
        raise _Problem(f"{node.name}: Softmax over axis {a.get('axis', -1)}, not the channels")
    return "SOFTMAX"


def _dropout(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    ratio = a.get("ratio")
    if len(node.input) > 1 and node.input[1]:
        ratio = r.const(node.input[1])
    return f"DROPOUT({real(ratio) if ratio is not None else '0.5'})"


def _resize(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    scales = r.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    mode = a.get("mode", b"nearest")
    if scales is None or mode not in (b"nearest", "nearest") or len(scales) != 4:
        raise _Problem(f"{node.name}: Resize other than nearest by constant scales")
    n = float(scales[2])
    if n != float(scales[3]) or n != int(n) or list(scales[:2]) != [1.0, 1.0]:
        raise _Problem(f"{node.name}: Resize by {list(scales)}: UP scales both axes by one integer")
    return f"UP({int(n)})"


def _reduce_mean(r: _Reader, node: Any, a: dict[str, Any]) -> str:
    axes = r.const(node.input[1]) if len(node.input) > 1 else a.get("axes")
    if axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
        raise _Problem(f"{node.name}: ReduceMean other than over height and width (GAP)")
    return "GAP"  # keepdims=0 leaves (N, C): the same values, and an FC flattens anyway


TRANSLATE: dict[str, Translate] = {
    "Conv": _conv, "ConvTranspose": _conv, "MaxPool": _pool, "AveragePool": _pool,
    "LpPool": _pool, "Gemm": _gemm, "Clip": _clip, "HardSigmoid": _hard_sigmoid,
    "Softmax": _softmax, "Dropout": _dropout, "Resize": _resize, "ReduceMean": _reduce_mean,
    "GlobalAveragePool": _simple("GAP"), "GlobalMaxPool": _simple("APOOL(1, type=max)"),
    "BatchNormalization": lambda r, n, a: f"BN(eps={real(a.get('epsilon', 1e-5))})",
    "LayerNormalization": lambda r, n, a: f"LN(eps={real(a.get('epsilon', 1e-5))})",
    "LeakyRelu": lambda r, n, a: f"LRELU({real(a.get('alpha', 0.01))})",
    "Elu": lambda r, n, a: f"ELU({real(a.get('alpha', 1.0))})",
    "LRN": lambda r, n, a: (f"LRN(size={int(a['size'])}, alpha={real(a.get('alpha', 1e-4))}, "
                            f"beta={real(a.get('beta', 0.75))}, k={real(a.get('bias', 1.0))})"),
    **{op: _simple(t) for op, t in _ACTIVATIONS.items()},
}  # fmt: skip
