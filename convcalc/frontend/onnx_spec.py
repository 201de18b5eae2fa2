"""Reading an .onnx file into the text of an equivalent spec (see ``onnx_reader``).

``spec_text(path)`` bounds the file, parses it with onnx, translates its nodes into layers
and writes them as one arrow pattern; every problem is a finding (CC120 too large, CC121 too
many nodes, CC130 an operator or pattern without a layer, CC131 not ONNX, malformed or
truncated), raised as ``SpecError``. ``spec.load_file`` then loads that text as a spec.
"""

from __future__ import annotations

import os
from typing import Any

from .. import limits
from ..errors import FileError, Finding, Location, SpecError, SpecNotFound
from ..rules.catalogue import finding
from .onnx_graph import MERGES, Layer, NotSeriesParallel, pattern, wrap
from .onnx_reader import MAX_ONNX_BYTES, SHAPE_OPS, TRANSLATE, _label, _Problem, _Reader


def _read(path: str, shown: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_ONNX_BYTES:
                message = (f"the file is {size:,} bytes; convcalc reads ONNX models of up to "
                           f"{MAX_ONNX_BYTES:,} bytes (2 GiB, protobuf's limit)")  # fmt: skip
                raise SpecError([finding("CC120", message, Location(shown))])
            return handle.read(MAX_ONNX_BYTES + 1)
    except FileNotFoundError:
        raise SpecNotFound(f"no such file `{shown}`") from None
    except IsADirectoryError:
        raise FileError(f"`{shown}` is a directory, not an ONNX model") from None
    except OSError as exc:
        raise FileError(f"cannot read `{shown}`: {exc.strerror}") from None


def _parse(raw: bytes, shown: str) -> Any:
    try:
        import onnx
    except ImportError:
        raise FileError(
            f"`{shown}` is an ONNX model: reading it needs the onnx package "
            "(pip install 'convcalc[onnx]')"
        ) from None

    def bad(why: str) -> SpecError:
        help = "export the model again (torch.onnx.export(model, x, path, dynamo=False))"
        return SpecError([finding("CC131", why, Location(shown), help=help)])

    if not raw:
        raise bad("the file is empty: not an ONNX model")
    try:
        model = onnx.load_model_from_string(raw)
    except Exception as exc:  # protobuf's DecodeError, or a RuntimeWarning turned error
        raise bad(f"not an ONNX model, or a malformed or truncated one: {exc}") from None
    if model.ir_version <= 0 or not model.graph.node or not model.graph.input:
        raise bad("not an ONNX model: no IR version, no nodes or no graph input")
    if len(model.graph.node) > limits.MAX_LAYERS * 4:
        message = (
            f"the graph has {len(model.graph.node):,} nodes; convcalc imports up to "
            f"{limits.MAX_LAYERS * 4:,} (for at most {limits.MAX_LAYERS:,} layers)"
        )
        raise SpecError([finding("CC121", message, Location(shown))])
    return model


def _input(r: _Reader) -> tuple[str, tuple[int, int, int]]:
    inputs = [i for i in r.graph.input if i.name not in r.inits]
    if len(inputs) != 1:
        raise _Problem(f"the graph has {len(inputs)} inputs; convcalc imports one image input")
    dims = r.shapes.get(inputs[0].name, [])
    if len(dims) != 4 or min(dims[1:]) < 1:
        raise _Problem(
            f"the input `{inputs[0].name}` is not an NCHW image of fixed size ({dims}); "
            "export with a fixed C, H and W (dynamic_axes for the batch only)"
        )
    return inputs[0].name, (dims[3], dims[2], dims[1])


def _ours(r: _Reader, source: str) -> list[Layer]:
    """A model convcalc exported: each row's nodes (``row``, ``row/...``) are its layer."""
    groups: dict[str, list[Any]] = {}
    for node in r.graph.node:
        groups.setdefault(node.name.split("/")[0], []).append(node)
    layers = []
    for row, nodes in groups.items():
        made = {v for n in nodes for v in n.output}
        main = next((n for n in nodes if n.name == row and n.doc_string), None)
        if main is None:
            raise _Problem(f"{row}: a node of a convcalc export without its layer")
        merge = main.doc_string in MERGES
        ins: list[str] = []
        for n in nodes:
            for v in n.input:
                if v and v not in made and not r.is_const(v) and (merge or v not in ins):
                    ins.append(v)
        layers.append(Layer(main.doc_string, tuple(ins), main.output[0], row, row))
    return layers


def _foreign(r: _Reader) -> list[Layer]:
    """Any other model: operator by operator, with the patterns of ``onnx_reader``."""
    alias: dict[str, str] = {}
    layers: list[Layer] = []
    taken: set[str] = set()

    def value(v: str) -> str:
        while v in alias:
            v = alias[v]
        return v

    def only_reader(v: str) -> Any:
        readers = r.consumers.get(v, [])
        return readers[0] if len(readers) == 1 else None

    for node in r.graph.node:
        op, name = node.op_type, node.name or f"{node.op_type} node {node.output[0]}"
        if op in SHAPE_OPS or all(r.is_const(v) for v in node.input):
            continue
        ins = [value(v) for v in node.input if v and not r.is_const(v)]
        out = node.output[0]
        a = r.attrs(node)
        text: str | None = None
        reader = only_reader(out)
        if op in ("Flatten", "Reshape") and reader is not None and reader.op_type == "Gemm":
            alias[out] = ins[0]  # the FC flattens its input itself
            continue
        if op == "Reshape":
            rank = _rank(r, node.input[1], out)
            source = r.producer.get(node.input[0])
            if rank == 5:
                alias[out] = ins[0]  # the first step of a channel shuffle
                continue
            if rank == 2:
                text = "FLATTEN"
            elif (source is not None and source.op_type == "Transpose"
                  and r.producer.get(source.input[0]) is not None
                  and r.producer[source.input[0]].op_type == "Reshape"):  # fmt: skip
                split = r.producer[source.input[0]]
                target = r.const(split.input[1])
                five = r.shapes.get(split.output[0]) or [0, 0]
                groups = target[1] if target is not None else five[1]
                text = f"SHUFFLE({int(groups)})"
        elif op == "Transpose":
            perm = [int(p) for p in r.attrs(node).get("perm", [])]
            if perm in ([0, 2, 3, 1], [0, 3, 1, 2], [0, 2, 1, 3, 4]):
                alias[out] = ins[0]  # around LN or a channel shuffle
                continue
        elif op == "Sigmoid" and reader is not None and reader.op_type == "Mul" \
                and node.input[0] in reader.input:  # fmt: skip
            alias[out] = ins[0]  # x·σ(x): the Mul is the SILU
            continue
        elif op == "Mul":
            src = [r.producer.get(v) for v in node.input]
            if any(p is not None and p.op_type == "Sigmoid" and p.input[0] in node.input
                   for p in src):  # fmt: skip
                text, ins = "SILU", [ins[0]]
            elif len(ins) == 1:
                text = "SCALE"
            else:
                text = "MUL"
        elif op in ("Add", "Sum"):
            if len(ins) == 1:
                raise _Problem(f"{name}: Add of a constant (a bias) outside an FC")
            text = "ADD"
        elif op == "MatMul":
            dims = r.dims(node.input[1])
            if len(dims) != 2 or len(ins) != 1:
                raise _Problem(f"{name}: MatMul of two computed tensors")
            bias = reader is not None and reader.op_type == "Add" and any(
                r.is_const(v) for v in reader.input)  # fmt: skip
            rank = len(r.shapes.get(node.input[0], []))
            text = f"{'LINEAR' if rank == 4 else 'FC'}({dims[1]}{'' if bias else ', bias=false'})"
            if bias:
                alias[reader.output[0]] = out
        elif op == "Concat":
            if int(a.get("axis", 1)) != 1:
                raise _Problem(f"{name}: Concat along axis {a.get('axis')}, not the channels")
            if len(ins) == 1:  # torch.cat([x]): x itself
                alias[out] = ins[0]
                continue
            text = "CAT"
        elif op in ("Split", "Slice"):
            layers.extend(_slices(r, node, ins[0], name, taken))
            continue
        elif op == "Flatten":
            text = "FLATTEN"
        elif op in TRANSLATE:
            text = TRANSLATE[op](r, node, a)
        if text is None:
            raise _Problem(f"operator {op} (node {name}) has no convcalc layer")
        layers.append(Layer(text, tuple(ins), out, _label(node, taken), name))
    return [layer._replace(inputs=tuple(value(v) for v in layer.inputs)) for layer in layers]


def _rank(r: _Reader, shape: str, out: str) -> int:
    """The rank a Reshape makes: its constant target's length, else shape inference's."""
    target = r.const(shape)
    return len(target) if target is not None else len(r.shapes.get(out, []))


def _slices(r: _Reader, node: Any, x: str, name: str, taken: set[str]) -> list[Layer]:
    """Split or Slice along the channels: one SLICE per output."""
    depth = (r.shapes.get(node.input[0]) or [0, 0])[1]
    a = r.attrs(node)
    if node.op_type == "Slice":
        starts, ends = (r.const(v) for v in node.input[1:3])
        axes = r.const(node.input[3]) if len(node.input) > 3 and node.input[3] else [0]
        steps = r.const(node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
        if starts is None or ends is None or list(axes) != [1] or list(steps) != [1]:
            raise _Problem(f"{name}: Slice other than a constant range of channels")
        stop = int(ends[0])
        stop_text = "" if stop >= depth > 0 else f", {stop}"  # SLICE(58): to the end
        return [Layer(f"SLICE({int(starts[0])}{stop_text})", (x,), node.output[0],
                      _label(node, taken), name)]  # fmt: skip
    if int(a.get("axis", 0)) != 1:
        raise _Problem(f"{name}: Split along axis {a.get('axis', 0)}, not the channels")
    sizes = r.const(node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("split")
    if sizes is None:
        if depth <= 0:
            raise _Problem(f"{name}: Split into parts of unknown size")
        sizes = [depth // len(node.output)] * len(node.output)
    layers, start = [], 0
    for out, size in zip(node.output, sizes, strict=True):
        text = f"SLICE({start}, {start + int(size)})"
        layers.append(Layer(text, (x,), out, _label(node, taken), name))
        start += int(size)
    return layers


def spec_text(path: str, shown: str | None = None) -> str:
    """The spec (YAML text) of the model at ``path``; SpecError with findings if none."""
    return read_model(path, shown)[0]


def read_model(path: str, shown: str | None = None) -> tuple[str, list[Finding]]:
    """The spec text of the model at ``path``, and notes about it (CC132: folded BNs)."""
    shown = shown or path
    model = _parse(_read(path, shown), shown)
    r = _Reader(model, shown)
    try:
        source, (w, h, d) = _input(r)
        layers = _ours(r, source) if r.ours else _foreign(r)
        if len(r.graph.output) != 1:
            raise _Problem(f"the graph has {len(r.graph.output)} outputs; convcalc follows one")
        arch = pattern(source, r.graph.output[0].name, layers)
    except _Problem as exc:
        r.problem(str(exc), "convcalc imports the operators its layers have (README: ONNX)")
        raise SpecError(r.findings) from None
    except NotSeriesParallel as exc:
        message = (f"node {exc.layer.node}: the graph needs this layer in two branches; "
                   "the arrow grammar writes series-parallel networks only")  # fmt: skip
        raise SpecError([finding("CC130", message, Location(shown))]) from None
    except KeyError as exc:
        message = f"the value {exc} is read but nothing in the graph computes it"
        raise SpecError([finding("CC131", message, Location(shown))]) from None
    name = model.graph.name
    if name in ("", "main_graph", "torch_jit", "torch-jit-export"):  # PyTorch's defaults
        name = os.path.splitext(os.path.basename(shown))[0]
    name = name.replace('"', "'").replace("\\", "/")
    folded, notes = "", []
    if r.folded:
        folded = (
            f" {len(r.folded)} CONV layers have unnamed weights and a bias, as when the "
            "exporter folds a BN into its CONV (eval mode with constant folding): the "
            "counts are the file's; export with do_constant_folding=False for the BNs."
        )
        message = (f"{len(r.folded)} CONV layers (the first: node {r.folded[0]}) have "
                   "unnamed weights and a bias: the exporter folded a BatchNorm into each "
                   "(eval mode with constant folding); the counts are the file's, without "
                   "the BN layers")  # fmt: skip
        help = ("export with torch.onnx.export(..., dynamo=False, do_constant_folding=False) "
                "to keep the BNs")  # fmt: skip
        notes.append(finding("CC132", message, Location(shown), help=help))
    return (
        f'name: "{name}"\n'
        f'description: "imported from {os.path.basename(shown)} ({len(model.graph.node)} '
        f'nodes, {model.producer_name or "unknown producer"}).{folded}"\n'
        f"input: {w}x{h}x{d}\n{_rounding(model)}"
        f"arch: |\n{wrap(arch)}\n"
    ), notes


def _rounding(model: Any) -> str:
    """``rounding: caffe`` when convcalc exported the model from a spec that said so."""
    props = {p.key: p.value for p in model.metadata_props}
    rounding = props.get("convcalc.rounding", "floor")
    return f"rounding: {rounding}\n" if rounding in ("strict", "caffe") else ""
