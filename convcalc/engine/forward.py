"""A real forward pass in NumPy that confirms every shape the analysis propagated.

``forward(analysis)`` draws He-initialised weights (uniform, variance 2/fan_in) and an input
batch from a seed, runs every row of the analysis in order (each row's inputs are earlier
rows), frees each array after its last reader, and compares every array's shape with the
row's output::

    >>> import convcalc
    >>> from convcalc.forward_pass import forward
    >>> result = forward(convcalc.analyze(convcalc.load("lenet5")), batch=2)
    >>> result.ok, result.layers[-1].actual
    (True, (1, 1, 10))

Before allocating anything it estimates the memory the pass needs (weights, live
activations, workspace) and raises :class:`MemoryLimitError` above ``max_memory`` (default:
half the available memory). A CONV or FC followed by batch norm, elementwise activations
and residual adds runs as one step: the batch norm folded into the weights, the rest applied
to each chunk of the GEMM's output while it is in cache; those rows report 0 s and name the
row they were fused into (``fuse=False`` runs every row on its own). Weights are prepared
with their initialisation, outside the timed pass: batch norms folded, and 3×3 convs that
Winograd F(4×4, 3×3) or F(2×2, 3×3) runs faster (see ``kernels.winograd_tile``)
transformed.

The pass runs in the spec's dtype (float32, float16 or float64); bfloat16 is not a NumPy
dtype, so it runs in float32 and ``ForwardResult.note`` says so. Times are
``time.perf_counter`` around each step; the peak memory is tracemalloc's (NumPy reports
its allocations to it), from before the weights are drawn to the end of the pass.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..analysis.analyzer import Analysis
from ..errors import ConvcalcError
from ..layers.base import pair
from ..layers.vocabulary import LAYERS
from ..records import ArgValue, Row, Shape
from ..units import mb
from . import kernels as K

ACTIVATIONS = frozenset({"RELU", "LRELU", "ELU", "GELU", "SIGMOID", "TANH", "SOFTMAX"})
ALIASES = frozenset({"ID", "DROPOUT", "SKIP", "FLATTEN"})  # the output is the input's array
#: what may follow a CONV or FC inside one fused step
FUSABLE = frozenset({"BN", "ID", "DROPOUT", "ADD"} | ACTIVATIONS - {"SOFTMAX"})
DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


class ForwardError(ConvcalcError):
    """The analysis cannot be run (it has errors, or a layer the pass cannot compute)."""


class MemoryLimitError(ConvcalcError):
    """The estimated memory of the pass exceeds the limit; nothing was allocated."""

    def __init__(self, estimate: MemoryEstimate, limit: int, default: bool) -> None:
        self.estimate = estimate
        self.limit = limit
        why = " (half the available memory)" if default else ""
        super().__init__(
            f"the forward pass needs about {mb(estimate.total, 0)} at batch "
            f"{estimate.batch} (weights {mb(estimate.weights, 0)}, activations "
            f"{mb(estimate.activations, 0)}, workspace "
            f"{mb(estimate.workspace, 0)}) but the limit is {mb(limit, 0)}{why}; use a smaller "
            "input or batch, or raise the limit"
        )


class MemoryEstimate(NamedTuple):
    batch: int
    weights: int  # parameters and buffers
    activations: int  # layer outputs: the planned region, plus the most of the others at once
    workspace: int  # padded inputs, im2col chunks and temporaries of the largest step
    arena: int = 0  # the scratch region: the largest step's named buffers

    @property
    def total(self) -> int:
        return self.weights + self.activations + self.workspace


class LayerRecord(NamedTuple):
    name: str
    type: str
    expected: Shape
    actual: Shape | None  # (W, H, D) of the array, None if the batch axis was wrong too
    match: bool
    seconds: float
    gflops: float  # 2·MACs·batch / seconds / 1e9
    fused_into: str | None = None  # the row whose step computed this one


class ForwardResult(NamedTuple):
    layers: tuple[LayerRecord, ...]
    batch: int
    dtype: str  # the NumPy dtype the pass ran in
    seconds: float  # the sum of the layer times (weight initialisation excluded)
    measured_peak_bytes: int  # tracemalloc's peak during the pass, weights included
    estimate: MemoryEstimate
    ok: bool  # every shape matched
    note: str | None = None  # e.g. bfloat16 computed as float32
    output: Any = None  # the last row's array, (N, H, W, D)

    @property
    def estimated_peak_bytes(self) -> int:
        return self.estimate.total


# -- planning -----------------------------------------------------------------------------


class Step(NamedTuple):
    rows: tuple[int, ...]  # the head first; the others are fused into it
    extra: tuple[tuple[int, tuple[int, ...]], ...] = ()  # fused ADD row -> its other values


class Plan(NamedTuple):
    steps: tuple[Step, ...]
    value: tuple[int, ...]  # row -> the row that owns its array
    last_read: Mapping[int, int]  # value -> the last step that reads it
    in_place: frozenset[int]  # rows that overwrite their input's array


def _readers(rows: Sequence[Row]) -> list[list[int]]:
    readers: list[list[int]] = [[] for _ in rows]
    for i, row in enumerate(rows):
        for j in row.inputs:
            readers[j].append(i)
    return readers


def _settled(rows: Sequence[Row], value: Sequence[int], j: int, before: int) -> int | None:
    """The value row j will hold, if it is computed before row ``before`` (an identity row
    after it, such as SKIP, holds its input's value)."""
    while j >= before:
        if rows[j].type not in ALIASES or rows[j].type == "FLATTEN":
            return None
        j = rows[j].inputs[0]
    return value[j]


def plan(rows: Sequence[Row], *, fuse: bool = True) -> Plan:
    """Steps in row order, which rows share an array, and when each array dies."""
    readers = _readers(rows)
    value = list(range(len(rows)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(rows))}  # value -> its rows
    in_place: set[int] = set()
    steps: list[Step] = []
    done: set[int] = set()

    def safe(i: int, v: int) -> bool:
        """Row i may overwrite value v: nobody reads v's current contents after i."""
        return all(r <= i for m in members[v] if m < i for r in readers[m])

    for i, row in enumerate(rows):
        if i in done:
            continue
        kind = row.type
        if kind in ALIASES:
            value[i] = value[row.inputs[0]]
        elif kind in ACTIVATIONS | {"BN"} and safe(i, value[row.inputs[0]]):
            value[i] = value[row.inputs[0]]
            in_place.add(i)
        elif kind == "ADD":
            values = [value[j] for j in row.inputs]
            dead = [v for v in values if values.count(v) == 1 and safe(i, v)]
            if dead:
                value[i] = dead[0]
                in_place.add(i)
        if value[i] != i:
            members[value[i]].append(i)
        chain: list[int] = [i]
        extra: list[tuple[int, tuple[int, ...]]] = []
        if fuse and kind in ("CONV", "FC"):
            tail = i
            while len(readers[tail]) == 1:
                nxt = readers[tail][0]
                if rows[nxt].type not in FUSABLE:
                    break
                if rows[nxt].type == "ADD":
                    others = [j for j in rows[nxt].inputs if j != tail]
                    if len(others) != len(rows[nxt].inputs) - 1:
                        break
                    ready = [_settled(rows, value, j, i) for j in others]
                    if any(v is None for v in ready):
                        break
                    extra.append((nxt, tuple(v for v in ready if v is not None)))
                chain.append(nxt)
                tail = nxt
            for j in chain[1:]:
                value[j] = i
                members[i].append(j)
                done.add(j)
        steps.append(Step(tuple(chain), tuple(extra)))
    last_read: dict[int, int] = {}
    for s, step in enumerate(steps):
        for i in step.rows:
            for j in rows[i].inputs:
                last_read[value[j]] = s
    return Plan(tuple(steps), tuple(value), last_read, frozenset(in_place))


# -- memory -------------------------------------------------------------------------------


def available_memory() -> int:
    """MemAvailable from /proc/meminfo, else free physical pages, else 4 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 4 << 30


def _size(shape: Shape, batch: int) -> int:
    return batch * shape[0] * shape[1] * shape[2]


#: kinds whose kernel writes a fresh output buffer it takes from the arena (activations, BN
#: and ADD only when they do not run in place)
TAKES = frozenset({"CONV", "LOCAL", "POOL", "TCONV", "CAT", "BN", "ADD"} | ACTIVATIONS)
#: above this many arrays to place, the layout is not planned (the search is quadratic)
LAYOUT_MAX = 5000


class Layout(NamedTuple):
    """Where each step's output lives in one region, planned before the pass."""

    slots: Mapping[int, tuple[int, int]]  # step -> (offset, bytes)
    size: int  # bytes of the region


def _lifetimes(
    rows: Sequence[Row], p: Plan, batch: int, itemsize: int
) -> list[tuple[int, int, int, int, bool]]:
    """(value, first step, last step, bytes, planned) of every array a step creates."""
    last_value = p.value[len(rows) - 1]
    out = []
    for s, step in enumerate(p.steps):
        head = step.rows[0]
        if p.value[step.rows[-1]] != head:  # in place, or an alias: no new array
            continue
        planned = rows[head].type in TAKES and head not in p.in_place and head != last_value
        end = p.last_read.get(head, len(p.steps))  # never read: alive to the end
        out.append((head, s, end, _size(rows[head].output, batch) * itemsize, planned))
    return out


def layout(analysis: Analysis, batch: int, itemsize: int, the_plan: Plan | None = None) -> Layout:
    """Offsets for the arrays of the pass in one region, greedy by size (largest first,
    each at the lowest offset free for its whole lifetime), as TensorFlow Lite plans its
    arena. The region is paged in with the weights, before the clock starts: a step then
    writes to memory that is already mapped, as a framework's second call does. Arrays the
    kernels allocate themselves (FC, GAP, LRN, UP outputs, the last output) are not in it."""
    p = the_plan or plan(analysis.rows)
    items = [x for x in _lifetimes(analysis.rows, p, batch, itemsize) if x[4]]
    if len(items) > LAYOUT_MAX:
        return Layout({}, 0)
    align = K.Arena.ALIGN
    placed: list[tuple[int, int, int, int]] = []  # (offset, end offset, first, last step)
    slots: dict[int, tuple[int, int]] = {}
    size = 0
    for _, first, last, nbytes, _ in sorted(items, key=lambda x: (-x[3], x[1])):
        busy = sorted((o, e) for o, e, f, l_ in placed if f <= last and l_ >= first)
        offset = 0
        for o, e in busy:
            if o - offset >= nbytes:
                break
            offset = max(offset, -(-e // align) * align)
        placed.append((offset, offset + nbytes, first, last))
        slots[first] = (offset, nbytes)
        size = max(size, offset + nbytes)
    return Layout(slots, size)


def estimate_memory(
    analysis: Analysis,
    batch: int,
    itemsize: int,
    the_plan: Plan | None = None,
    the_layout: Layout | None = None,
) -> MemoryEstimate:
    """Bytes the pass will hold at its peak, from the rows alone (nothing is allocated):
    the planned region of activations (see ``layout``), plus the most bytes of the other
    arrays alive at once, plus the largest step's workspace."""
    rows = analysis.rows
    p = the_plan or plan(rows)
    weights = sum(r.weights + r.biases + r.buffers for r in rows) * itemsize
    for r in rows:  # (m+2)² transformed weights instead of 3·3
        if m := _winograd(r, batch):
            weights += r.weights * ((m + 2) ** 2 - 9) // 9 * itemsize
    region = (the_layout or layout(analysis, batch, itemsize, p)).size
    born: dict[int, list[tuple[int, int]]] = {}
    for v, first, _, nbytes, planned in _lifetimes(rows, p, batch, itemsize):
        if not planned or region == 0:
            born.setdefault(first, []).append((v, nbytes))
    dies: dict[int, list[int]] = {}
    for value, last in p.last_read.items():
        if value != p.value[len(rows) - 1]:
            dies.setdefault(last, []).append(value)
    live: dict[int, int] = {}
    peak = workspace = arena = 0
    for s, step in enumerate(p.steps):
        head = rows[step.rows[0]]
        live.update(born.get(s, ()))
        peak = max(peak, sum(live.values()))
        scratch = _workspace(head, batch, itemsize, analysis.rounding)
        named = sum(n + K.Arena.ALIGN for name, n in scratch.items() if name != "temp")
        arena = max(arena, named)
        workspace = max(workspace, named + scratch.get("temp", 0))
        for value in dies.get(s, ()):
            live.pop(value, None)
    return MemoryEstimate(batch, weights, region + peak, workspace, arena)


def _workspace(row: Row, batch: int, itemsize: int, rounding: str) -> dict[str, int]:
    """The scratch buffers one row's kernel uses, by arena slot."""
    kind = row.type
    x = row.input_shapes[0] if row.input_shapes else row.output
    out = _size(row.output, batch) * itemsize
    if kind in ("CONV", "LOCAL", "POOL"):
        a = LAYERS[kind].axes(row.args, x)
        assert a is not None
        pad = (x[0] + a[0].before + a[0].after) * (x[1] + a[1].before + a[1].after) * x[2]
        padded = a[0].before + a[0].after + a[1].before + a[1].after > 0
        if kind == "POOL":
            wp = x[0] + a[0].before + a[0].after + pair(row.args, "F")[0]  # ceil's extra too
            band = min(row.output[1], max(1, K.POOL_BAND_BYTES // (batch * wp * x[2] * itemsize)))
            l2 = batch * pad * itemsize if row.args["type"] == "l2" else 0  # the squares
            return {
                "pool": batch * 2 * pad * itemsize,
                "pool_rows": batch * band * wp * x[2] * itemsize,
                "temp": l2,
            }
        fw, fh = pair(row.args, "F")
        groups = _int(row.args, "groups", 1)
        wo, ho, k = row.output
        j = fw * fh * x[2] // groups
        if kind == "LOCAL":
            per_image = wo * ho * j * itemsize
            images = min(batch, max(1, K.CHUNK_BYTES // max(per_image, 1)))
            cols = min(per_image * images, max(K.CHUNK_BYTES, per_image // ho))
            return {"temp": batch * pad * itemsize + 3 * cols * batch}
        if m := _winograd(row, batch):
            c, k, a2 = x[2], row.output[2], (m + 2) ** 2
            ty, tx = -(-row.output[1] // m), -(-row.output[0] // m)
            per_row = tx * a2 * (2 * c + k) * itemsize
            budget = K.winograd_chunk_bytes(c, k, itemsize, m)
            images, rows = K.largest_chunk(batch, ty, per_row, budget)
            tiles = images * rows * tx
            return {
                "pad": images * (ty * m + 2) * (tx * m + 2) * c * itemsize,
                "wd": a2 * tiles * c * itemsize,
                "wv": a2 * tiles * c * itemsize,
                "wm": a2 * tiles * k * itemsize,
                "wz": m * m * tiles * k * itemsize,
            }
        j += 1  # the bias may ride in the GEMM as a column of ones
        row_bytes = wo * (j + k) * itemsize
        images, rows = K.largest_chunk(batch, ho, row_bytes, K.im2col_budget(j, k, itemsize))
        return {
            "pad": images * pad * itemsize if padded else 0,
            "cols": images * rows * wo * j * itemsize,
            "dw": images * rows * wo * k * itemsize if groups > 1 else 0,
        }
    if kind == "TCONV":
        fw, fh = pair(row.args, "F")
        cols = batch * x[0] * x[1] * fw * fh * row.output[2] // _int(row.args, "groups")
        return {"temp": cols * itemsize + 2 * out}
    if kind in ("LRN", "GELU", "ELU", "LRELU", "SOFTMAX", "CAT"):
        return {"temp": 4 * out}
    if kind == "FC":
        return {"temp": 3 * _size(x, batch) * itemsize + 2 * out}
    return {}


# -- weights ------------------------------------------------------------------------------


def _int(args: Mapping[str, ArgValue], key: str, default: int = 0) -> int:
    value = args.get(key, default)
    assert isinstance(value, int)
    return value


def _float(args: Mapping[str, ArgValue], key: str) -> float:
    value = args[key]
    assert isinstance(value, int | float)
    return float(value)


def _hw(args: Mapping[str, ArgValue], key: str) -> tuple[int, int]:
    """A convcalc (width, height) pair as the kernels' (height, width)."""
    w, h = pair(args, key)
    return h, w


def _winograd(row: Row, batch: int) -> int:
    """The m of the Winograd F(m×m, 3×3) a CONV runs through, 0 if none (see
    ``kernels.winograd_tile``)."""
    if row.type != "CONV" or row.args["F"] != (3, 3) or row.args["S"] != (1, 1):
        return 0
    if row.args["dilation"] != (1, 1) or row.args["groups"] != 1:
        return 0
    c = row.input_shapes[0][2]
    return K.winograd_tile(batch, row.output[1], row.output[0], c)


def init_params(row: Row, rng: np.random.Generator, dtype: Any) -> dict[str, Any]:
    """He-initialised weights, zero biases; batch norm starts as PyTorch's (γ=1, β=0,
    running mean 0, running variance 1)."""
    kind, args = row.type, row.args
    x = row.input_shapes[0] if row.input_shapes else row.output
    params: dict[str, Any] = {}
    if kind in ("CONV", "LOCAL", "TCONV"):
        fh, fw = _hw(args, "F")
        groups = _int(args, "groups", 1)
        k, cg = _int(args, "K"), x[2] // groups
        if kind == "CONV":
            shape: tuple[int, ...] = (fh, fw, cg, k)
        elif kind == "LOCAL":
            shape = (row.output[1], row.output[0], fh, fw, cg, k)
        else:
            shape = (x[2], fh, fw, k // groups)
        params["w"] = K.he_uniform(rng, shape, fh * fw * cg, dtype)
        if args.get("bias", True):
            bias = (row.output[1], row.output[0], k) if kind == "LOCAL" else (k,)
            params["b"] = np.zeros(bias, dtype)
    elif kind == "FC":
        d = x[0] * x[1] * x[2]
        params["w"] = K.he_uniform(rng, (_int(args, "K"), d), d, dtype)
        if args.get("bias", True):
            params["b"] = np.zeros(_int(args, "K"), dtype)
    elif kind == "BN":
        d = x[2]
        params.update(
            gamma=np.ones(d, dtype),
            beta=np.zeros(d, dtype),
            mean=np.zeros(d, dtype),
            var=np.ones(d, dtype),
        )
    return params


# -- running ------------------------------------------------------------------------------


def _nhwc_shape(a: Any, batch: int) -> Shape | None:
    if a.ndim != 4 or a.shape[0] != batch:
        return None
    return int(a.shape[2]), int(a.shape[1]), int(a.shape[3])


def _activation(row: Row, x: Any, out: Any) -> Any:
    kind, args = row.type, row.args
    if kind == "RELU":
        return K.relu(x, out=out)
    if kind == "LRELU":
        return K.leaky_relu(x, _float(args, "slope"), out=out)
    if kind == "ELU":
        return K.elu(x, _float(args, "alpha"), out=out)
    if kind == "GELU":
        return K.gelu(x, out=out)
    if kind == "SIGMOID":
        return K.sigmoid(x, out=out)
    if kind == "TANH":
        return K.tanh(x, out=out)
    return K.softmax(x, out=out)


class _Runner:
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
                    x, _hw(args, "F"), stride=_hw(args, "S"), pad=pads, kind=str(args["type"]),
                    ceil=ceil, arena=arena,
                )  # fmt: skip
            conv = K.conv2d if kind == "CONV" else K.local2d
            return conv(
                x, p["w"], p.get("b"), stride=_hw(args, "S"), pad=pads,
                dilation=_hw(args, "dilation"), groups=_int(args, "groups"), arena=arena,
            )  # fmt: skip
        if kind == "TCONV":
            return K.conv_transpose2d(
                x, p["w"], p.get("b"), stride=_hw(args, "S"), pad=_hw(args, "P"),
                out_pad=_hw(args, "out_pad"), dilation=_hw(args, "dilation"),
                groups=_int(args, "groups"), arena=arena,
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
                x, p["gamma"], p["beta"], p["mean"], p["var"], _float(args, "eps"), out
            )
        if kind == "LRN":
            k_ = _float(args, "k")
            return K.lrn(x, _int(args, "size"), _float(args, "alpha"), _float(args, "beta"), k_)
        if kind == "UP":
            return K.upsample_nearest(x, _int(args, "n"))
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
        raise ForwardError(f"{row.name}: the forward pass cannot compute {kind} layers")

    def prepare(self, step: Step, batch: int) -> dict[str, Any]:
        """Weights of a CONV or FC step, before the clock starts: a batch norm right after it
        is folded into its weights and bias, a later one becomes scale and shift, and a 3×3
        conv that Winograd does faster gets its transformed weights instead of its own."""
        head = self.rows[step.rows[0]]
        w, b = self.params[step.rows[0]]["w"], self.params[step.rows[0]].get("b")
        affine: dict[int, tuple[Any, Any]] = {}
        folding = True
        for i in step.rows[1:]:
            row = self.rows[i]
            if row.type in ("ID", "DROPOUT"):
                continue
            if row.type != "BN":
                folding = False
                continue
            q = self.params[i]
            scale, shift = K.bn_affine(
                q["gamma"], q["beta"], q["mean"], q["var"], _float(row.args, "eps")
            )
            self.params[i] = {}  # γ, β and the running statistics live on in w, b or affine
            if folding:  # (x·w + b)·scale + shift = x·(w·scale) + (b·scale + shift)
                per_k = scale[:, None] if head.type == "FC" else scale  # w is (K, D) or (.., K)
                w *= per_k.astype(w.dtype)  # in place: the unfolded weights are not needed
                b = ((b.astype(np.float64) if b is not None else 0.0) * scale + shift).astype(
                    w.dtype
                )
            else:
                affine[i] = (scale.astype(w.dtype), shift.astype(w.dtype))
        winograd = None
        if m := _winograd(head, batch):
            winograd, w = K.winograd_weights(w, m), w[:0]
        self.params[step.rows[0]] = {}  # the unfolded weights can go
        return {"w": w, "b": b, "affine": affine, "winograd": winograd}

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
            x, w, b, stride=_hw(args, "S"), pad=pads, dilation=_hw(args, "dilation"),
            groups=_int(args, "groups"), epilogue=ops, arena=self.arena,
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


def forward(
    analysis: Analysis,
    *,
    batch: int = 1,
    seed: int = 0,
    max_memory: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    fuse: bool = True,
    trace_memory: bool = True,
) -> ForwardResult:
    """Run the analysed network on a random batch and compare every shape.

    ``progress(done, total, layer_name)`` is called after each row. ``trace_memory=False``
    skips tracemalloc (its bookkeeping slows the pass a little; measured_peak_bytes is then 0).
    """
    if not analysis.ok or analysis.output is None or not analysis.rows:
        raise ForwardError("the analysis has errors: fix them before running the network")
    if batch < 1:
        raise ForwardError(f"batch must be at least 1, not {batch}")
    note = None
    name = analysis.spec.dtype
    if name not in DTYPES:
        note = f"{name} is not a NumPy dtype: computed in float32"
    dtype = np.dtype(DTYPES.get(name, np.float32))
    rows = analysis.rows
    the_plan = plan(rows, fuse=fuse)
    planned = layout(analysis, batch, dtype.itemsize, the_plan)
    estimate = estimate_memory(analysis, batch, dtype.itemsize, the_plan, planned)
    limit = max_memory if max_memory is not None else available_memory() // 2
    if estimate.total > limit:
        raise MemoryLimitError(estimate, limit, max_memory is None)

    tracing = trace_memory and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    if trace_memory:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    try:
        rng = np.random.default_rng(seed)
        x0 = rows[0].output
        params = [init_params(row, rng, dtype) for row in rows]
        runner = _Runner(analysis, the_plan, params)
        runner.arrays[0] = K.he_uniform(rng, (batch, x0[1], x0[0], x0[2]), 2, dtype)
        runner.arena.reserve(estimate.arena)
        runner.arena.place(planned.slots, planned.size)
        if trace_memory:
            # the peak of the pass itself: the weights and the input count, the temporaries
            # of drawing the weights do not
            tracemalloc.reset_peak()
        seconds = [0.0] * len(rows)
        shapes: dict[int, Shape | None] = {}
        fused_into: dict[int, str] = {}
        for s, step in enumerate(the_plan.steps):
            head = step.rows[0]
            runner.arena.begin(s)
            # folding BN and transforming for Winograd happen before the clock starts, one
            # layer at a time, so only that layer's weights exist twice
            prepared = runner.prepare(step, batch) if rows[head].type in ("CONV", "FC") else None
            start = time.perf_counter()
            if head == 0:
                result = runner.arrays[0]
            elif prepared is not None:
                result = runner.fused(step, prepared)
                prepared = None
            else:
                result = runner.layer(head)
            seconds[head] = time.perf_counter() - start
            for i in step.rows:
                runner.arrays[i] = result
                shapes[i] = _nhwc_shape(result, batch)
            for i in step.rows[1:]:
                fused_into[i] = rows[head].name
            runner.release(s)
            if progress is not None:
                for i in step.rows:
                    progress(i + 1, len(rows), rows[i].name)
        output = runner.arrays[len(rows) - 1]
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base if trace_memory else 0
        if tracing:
            tracemalloc.stop()
    records = []
    for i, row in enumerate(rows):
        actual = shapes.get(i)
        sec = seconds[i]
        gflops = 2 * row.macs * batch / sec / 1e9 if sec > 0 else 0.0
        match = actual == row.output
        record = LayerRecord(row.name, row.type, row.output, actual, match, sec, gflops)
        records.append(record._replace(fused_into=fused_into.get(i)))
    return ForwardResult(
        tuple(records),
        batch,
        str(dtype),
        sum(seconds),
        max(peak, 0),
        estimate,
        all(r.match for r in records),
        note,
        output,
    )
