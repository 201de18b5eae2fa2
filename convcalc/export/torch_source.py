"""An analysed spec as readable PyTorch source: one ``nn.Module`` that imports only torch.

Every row but INPUT and the merges becomes a submodule named as convcalc names the row
(``conv1``, ``skip1.conv`` as ``skip1_conv``), built in ``__init__`` in execution order, so
the module's state dict lists the weights in the order of the rows. ``forward`` applies them
in the same order; ADD, CAT and MUL are written out (``a + b``, ``torch.cat``, ``a * b``),
SLICE is ``x[:, a:b]``. A value read once, by the next row, is ``x``; any other keeps its
row's name, so a branch reads like the spec's.

Tensors are NCHW. An FC flattens with ``torch.flatten(x, 1)`` (PyTorch's (D, H, W) order) and
its output is (N, K), as torchvision's classifiers (so is the module's, when it ends in one);
``weights.torch_state`` reorders an FC's columns from convcalc's (H, W, D) order, so the same
seed gives the same output. A FLATTEN
of a volume larger than 1×1 keeps convcalc's (H, W, D) order (a permute first).
"""

from __future__ import annotations

import keyword
import os
import re
import textwrap
from collections.abc import Callable, Sequence

from ..analysis.analyzer import Analysis
from ..layers.base import flag, integer, pair, real
from ..layers.vocabulary import LAYERS
from ..layers.windowed import Conv
from ..records import Row
from ..report.escape import visible

#: Attribute names nn.Module keeps for itself.
_RESERVED = {"forward", "training", "state_dict", "parameters", "buffers", "modules", "x"}
#: Activations: (torch module, its arguments from the row's).
_ACTIVATIONS: dict[str, tuple[str, Callable[[Row], str]]] = {
    "RELU": ("nn.ReLU", lambda r: ""),
    "RELU6": ("nn.ReLU6", lambda r: ""),
    "LRELU": ("nn.LeakyReLU", lambda r: repr(real(r.args, "slope"))),
    "ELU": ("nn.ELU", lambda r: repr(real(r.args, "alpha"))),
    "GELU": ("nn.GELU", lambda r: ""),
    "SIGMOID": ("nn.Sigmoid", lambda r: ""),
    "TANH": ("nn.Tanh", lambda r: ""),
    "HSWISH": ("nn.Hardswish", lambda r: ""),
    "HSIGMOID": ("nn.Hardsigmoid", lambda r: ""),
    "SILU": ("nn.SiLU", lambda r: ""),
    "SWISH": ("nn.SiLU", lambda r: ""),
}
#: Activations whose torch module takes inplace=.
_INPLACE = {"RELU", "RELU6", "LRELU", "ELU", "HSWISH", "HSIGMOID", "SILU", "SWISH"}
#: Row types that keep a 2-D (N, K) tensor 2-D; everything else needs NCHW.
_ANY_RANK = {*_ACTIVATIONS, "DROPOUT", "DROPPATH", "ID", "SKIP", "SOFTMAX", "BN", "LN", "SCALE",
             "FC", "FLATTEN", "SLICE", "ADD", "MUL"}  # fmt: skip

#: Row types whose output is a tensor of its own that autograd does not keep: an in-place
#: activation may overwrite it (not a view, as ID or SLICE give, nor SIGMOID's saved output).
_OWN = {"CONV", "TCONV", "LOCAL", "BN", "LN", "SCALE", "ADD", "CAT", "MUL", "FC", "LINEAR",
        "POOL", "GAP", "APOOL", "UP", "SHUFFLE"}  # fmt: skip

_HELPERS = {
    "LOCAL": '''
class LocallyConnected2d(nn.Module):
    """A convolution whose filters differ at every output position (no weight sharing)."""

    def __init__(
        self, d1: int, k: int, kernel: tuple[int, int], stride: tuple[int, int],
        dilation: tuple[int, int], groups: int, out: tuple[int, int], bias: bool,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.groups, self.out = groups, out
        taps = d1 // groups * kernel[0] * kernel[1]
        self.weight = nn.Parameter(torch.empty(out[0] * out[1], k, taps))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.bias = nn.Parameter(torch.zeros(k, *out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, g = x.shape[0], self.groups
        cols = F.unfold(x, self.kernel, self.dilation, 0, self.stride)  # (N, D1·FH·FW, L)
        cols = cols.reshape(n, g, -1, cols.shape[-1])  # (N, G, taps, L)
        w = self.weight.reshape(self.weight.shape[0], g, -1, self.weight.shape[-1])
        y = torch.einsum("ngjl,lgkj->ngkl", cols, w).reshape(n, -1, *self.out)
        return y if self.bias is None else y + self.bias
''',
    "SCALE": '''
class LayerScale(nn.Module):
    """y = x·γ[d], a learned factor per channel (ConvNeXt's layer scale)."""

    def __init__(self, d: int, init: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((d,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.reshape(-1, *[1] * (x.dim() - 2))
''',
    "LN": '''
class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels at each position of an NCHW tensor (LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return super().forward(x)
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
''',
    "LINEAR": '''
class PointwiseLinear(nn.Linear):
    """nn.Linear at every position of an NCHW tensor (ConvNeXt's MLP)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
''',
    "DROPPATH": '''
class DropPath(nn.Module):
    """Stochastic depth, mode "row": drops the whole branch of a sample (identity in eval)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)
''',
    "POOL": '''
def l2_pool(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
            ceil_mode: bool) -> torch.Tensor:
    """sqrt of the sum of squares over each window (LPPool2d(2), also over padding)."""
    return F.avg_pool2d(x * x, kernel, stride, ceil_mode=ceil_mode, divisor_override=1).sqrt()
''',
}

_LOADER = '''

def load_npz(model: nn.Module, path: str) -> None:
    """Load the weights `convcalc run --save-weights FILE.npz` wrote, in PyTorch's layout."""
    state = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            raw = archive.read(member)
            size = 2 if raw[6] == 1 else 4  # .npy version 1 or 2: the header's length
            start = 8 + size + int.from_bytes(raw[8 : 8 + size], "little")
            header = ast.literal_eval(raw[8 + size : start].decode("latin1"))
            dtype = {"<f2": torch.float16, "<f4": torch.float32, "<f8": torch.float64}
            data = torch.frombuffer(bytearray(raw[start:]), dtype=dtype[header["descr"]])
            state[member.removesuffix(".npy")] = data.reshape(header["shape"])
    model.load_state_dict(state)
'''


class ExportError(ValueError):
    """A row that the target cannot express."""


def class_name(spec_name: str) -> str:
    """``VGG-16`` → ``VGG16``, ``AlexNet (224)`` → ``AlexNet224``: a Python class name."""
    parts = re.findall(r"[A-Za-z0-9]+", spec_name)
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Network"
    return name if name[0].isalpha() else f"Net{name}"


def attribute_names(rows: Sequence[Row]) -> list[str]:
    """A Python identifier per row, from its name: ``skip1.conv`` → ``skip1_conv``; unique."""
    taken: set[str] = set()
    result = []
    for row in rows:
        base = re.sub(r"\W", "_", row.name, flags=re.ASCII).strip("_") or "layer"
        if base[0].isdigit() or keyword.iskeyword(base) or base in _RESERVED:
            base = f"{row.type.lower()}_{base}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        result.append(name)
    return result


def _pads(row: Row) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) of a CONV, LOCAL or POOL row."""
    layer = LAYERS[row.type]
    assert isinstance(layer, Conv)
    wa, ha = layer.axes(row.args, row.input_shapes[0])
    return wa.before, wa.after, ha.before, ha.after


def _hw(row: Row, key: str) -> tuple[int, int]:
    w, h = pair(row.args, key)
    return h, w


def _tup(value: tuple[int, int]) -> str:
    return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"


def _module(row: Row, rounding: str, inplace: bool) -> tuple[str, str]:
    """(the constructor, a prefix of the forward call: padding) of a row with a submodule."""
    a, t = row.args, row.type
    d1 = row.input_shapes[0][2] if row.input_shapes else 0
    if t in ("CONV", "LOCAL", "POOL"):
        left, right, top, bottom = _pads(row)
        symmetric = left == right and top == bottom
        padding = (top, left) if symmetric else (0, 0)
        pad = "" if symmetric else f"({left}, {right}, {top}, {bottom})"
        kernel, stride = _hw(row, "F"), _hw(row, "S")
        if t == "CONV":
            k, groups, dilation = integer(a, "K"), integer(a, "groups"), _hw(row, "dilation")
            extra = [f"stride={_tup(stride)}"]
            extra += [f"padding={_tup(padding)}"] if padding != (0, 0) else []
            extra += [f"dilation={_tup(dilation)}"] if dilation != (1, 1) else []
            extra += [f"groups={groups}"] if groups != 1 else []
            extra += ["bias=False"] if not flag(a, "bias") else []
            return f"nn.Conv2d({d1}, {k}, {_tup(kernel)}, {', '.join(extra)})", pad
        if t == "LOCAL":
            w2, h2, k = row.output
            return (
                f"LocallyConnected2d({d1}, {k}, {kernel}, {stride}, {_hw(row, 'dilation')}, "
                f"{integer(a, 'groups')}, ({h2}, {w2}), {flag(a, 'bias')})",
                f"({left}, {right}, {top}, {bottom})" if (left, right, top, bottom) != (0,) * 4
                else "",
            )  # fmt: skip
        ceil = LAYERS[t].rounds_up(a, rounding)
        kind = a["type"]
        if kind == "l2":
            shape = f"{_tup(kernel)}, {_tup(stride)}, {ceil}"
            return "", f"l2:{shape}|({left}, {right}, {top}, {bottom})"
        extra = [f"stride={_tup(stride)}"]
        extra += [f"padding={_tup(padding)}"] if padding != (0, 0) else []
        extra += ["ceil_mode=True"] if ceil else []
        cls = "nn.MaxPool2d" if kind == "max" else "nn.AvgPool2d"
        if not symmetric and kind == "max":
            pad += "-inf"
        return f"{cls}({_tup(kernel)}, {', '.join(extra)})", pad
    if t == "TCONV":
        k, groups, dilation = integer(a, "K"), integer(a, "groups"), _hw(row, "dilation")
        extra = [f"stride={_tup(_hw(row, 'S'))}"]
        extra += [f"padding={_tup(_hw(row, 'P'))}"] if _hw(row, "P") != (0, 0) else []
        extra += [f"output_padding={_tup(_hw(row, 'out_pad'))}"] if a["out_pad"] != (0, 0) else []
        extra += [f"groups={groups}"] if groups != 1 else []
        extra += ["bias=False"] if not flag(a, "bias") else []
        extra += [f"dilation={_tup(dilation)}"] if dilation != (1, 1) else []
        return f"nn.ConvTranspose2d({d1}, {k}, {_tup(_hw(row, 'F'))}, {', '.join(extra)})", ""
    if t == "FC":
        w, h, d = row.input_shapes[0]
        bias = "" if flag(a, "bias") else ", bias=False"
        return f"nn.Linear({w * h * d}, {integer(a, 'K')}{bias})", ""
    if t == "LINEAR":
        bias = "" if flag(a, "bias") else ", bias=False"
        return f"PointwiseLinear({d1}, {integer(a, 'K')}{bias})", ""
    if t in _ACTIVATIONS:
        cls, first = _ACTIVATIONS[t]
        args = [first(row)] if first(row) else []
        if inplace and t in _INPLACE:
            args.append("inplace=True")
        return f"{cls}({', '.join(args)})", ""
    eps = repr(real(a, "eps")) if "eps" in a else ""
    simple = {
        "BN": f"nn.BatchNorm{{rank}}d({d1}, eps={eps})",
        "LN": f"ChannelLayerNorm({d1}, eps={eps})",
        "SCALE": f"LayerScale({d1})",
        "LRN": f"nn.LocalResponseNorm({a.get('size')}, alpha={a.get('alpha')!r}, "
        f"beta={a.get('beta')!r}, k={a.get('k')!r})",
        "DROPOUT": f"nn.Dropout({a.get('p')!r})",
        "DROPPATH": f"DropPath({a.get('p')!r})",
        "SOFTMAX": "nn.Softmax(dim=1)",
        "GAP": "nn.AdaptiveAvgPool2d(1)",
        "FLATTEN": "nn.Flatten()",
        "UP": f'nn.Upsample(scale_factor={a.get("n")}, mode="nearest")',
        "SHUFFLE": f"nn.ChannelShuffle({a.get('groups')})",
        "ID": "nn.Identity()",
        "SKIP": "nn.Identity()",
    }
    if t == "APOOL":
        w, h = pair(a, "out")
        cls = "nn.AdaptiveMaxPool2d" if a["type"] == "max" else "nn.AdaptiveAvgPool2d"
        return f"{cls}({_tup((h, w))})", ""
    if t not in simple:
        raise ExportError(f"{row.name}: PyTorch has no {t} layer that convcalc can write")
    return simple[t], ""


def _wrap(line: str, indent: int) -> list[str]:
    """A statement split after its first ``(`` when it is longer than ruff's 100 columns."""
    pad = " " * indent
    if len(pad) + len(line) <= 100 or "(" not in line:
        return [pad + line]
    head, rest = line.split("(", 1)
    body = rest[:-1]
    return [f"{pad}{head}(", f"{pad}    {body},", f"{pad})"] if len(pad) + 4 + len(body) < 100 \
        else [f"{pad}{head}(  # noqa: E501", f"{pad}    {body},", f"{pad})"]  # fmt: skip


def torch_source(analysis: Analysis) -> str:
    """The PyTorch source of the analysed network (its analysis must be error-free)."""
    rows = analysis.rows
    names = attribute_names(rows)
    readers: list[list[int]] = [[] for _ in rows]
    for i, row in enumerate(rows):
        for j in row.inputs:
            readers[j].append(i)
    last = len(rows) - 1
    # a value read once, by the next row, is `x`; others keep their row's name
    var = ["x" if i == 0 or readers[i] == [i + 1] or i == last else names[i]
           for i in range(len(rows))]  # fmt: skip
    if readers[0] != [1]:
        var[0] = "image"
    rank = [4] * len(rows)
    init: list[str] = []
    body: list[str] = []
    used: set[str] = set()
    for i, row in enumerate(rows[1:], 1):
        t = row.type
        ins = [var[j] for j in row.inputs]
        ranks = [rank[j] for j in row.inputs]
        if t not in _ANY_RANK or (len(set(ranks)) > 1 and t in ("ADD", "MUL", "CAT")):
            ins = [f"{v}[:, :, None, None]" if r == 2 else v
                   for v, r in zip(ins, ranks, strict=True)]  # fmt: skip
            ranks = [4] * len(ins)
        rank[i] = 2 if t in ("FC", "FLATTEN") else ranks[0]
        target = var[i]
        if t == "ADD":
            expr = " + ".join(ins)
        elif t == "MUL":
            expr = " * ".join(ins)
        elif t == "CAT":
            expr = f"torch.cat([{', '.join(ins)}], 1)"
        elif t == "SLICE":
            start, stop = row.args["start"], row.args["stop"]
            expr = f"{ins[0]}[:, {start}:{'' if stop == 'end' else stop}]"
        else:
            x = ins[0]
            j = row.inputs[0]
            inplace = bool(row.args.get("inplace")) and readers[j] == [i] and rows[j].type in _OWN
            ctor, pad = _module(row, analysis.rounding, inplace)
            if t in _HELPERS and t != "POOL":
                used.add(t)
            if pad.startswith("l2:"):
                used.add("POOL")
                call, pads = pad[3:].split("|")
                if pads != "(0, 0, 0, 0)":
                    x = f"F.pad({x}, {pads})"
                expr = f"l2_pool({x}, {call})"
                body.append(f"{target} = {expr}  # {row.name}")
                continue
            if pad.endswith("-inf"):
                x = f'F.pad({x}, {pad[:-4]}, value=float("-inf"))'
            elif pad:
                x = f"F.pad({x}, {pad})"
            if t == "FC":
                x = f"torch.flatten({x}, 1)" if ranks[0] == 4 else x
            elif t == "FLATTEN" and row.input_shapes[0][:2] != (1, 1):
                x = f"{x}.permute(0, 2, 3, 1)"  # convcalc's (H, W, D) order
            ctor = ctor.replace("{rank}", "1" if ranks[0] == 2 else "2")
            init.append(f"self.{names[i]} = {ctor}")
            expr = f"self.{names[i]}({x})"
        body.append(f"{target} = {expr}")
    final = var[last]
    return _assemble(analysis, init, body, final, used, var[0])


def _assemble(analysis: Analysis, init: list[str], body: list[str], final: str,
              used: set[str], image: str) -> str:  # fmt: skip
    spec = analysis.spec
    cls = class_name(spec.name)
    w, h, d = analysis.rows[0].output
    ow, oh, od = analysis.rows[-1].output
    title = visible(spec.name).replace('"""', "'''").replace("\\", "/")
    about = (
        f"{title}, written by `convcalc export --to torch` from {os.path.basename(spec.path)}. "
        f"Input (N, {d}, {h}, {w}), output (N, {od}, {oh}, {ow}); "
        f"{analysis.totals.params:,} parameters. Load the weights of "
        "`convcalc run --seed S --save-weights w.npz` with load_npz."
    )
    functional = any("F." in line for line in body) or used & {"LOCAL", "POOL"}
    lines = [
        *textwrap.wrap('"""' + about, 96, break_long_words=False, break_on_hyphens=False),
        '"""',
        "",
        "import ast",
        "import zipfile",
        "",
        "import torch",
        *(["import torch.nn.functional as F"] if functional else []),
        "from torch import nn",
        "",
    ]
    for t in sorted(used):
        lines += [*_HELPERS[t].rstrip("\n").split("\n"), ""]
    lines += [
        "",
        f"class {cls}(nn.Module):",
        *textwrap.wrap(
            f'    """{title}: one submodule per convcalc row, named as the rows are."""',
            96,
            subsequent_indent="    ",
            break_long_words=False,
        ),
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
    ]
    for line in init:
        lines += _wrap(line, 8)
    lines += ["", f"    def forward(self, {image}: torch.Tensor) -> torch.Tensor:"]
    for line in body:
        lines += _wrap(line, 8)
    lines += [f"        return {final}", ""]
    lines += _LOADER.split("\n")
    return "\n".join(lines).rstrip("\n") + "\n"
