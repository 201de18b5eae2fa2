"""Memory before the pass: the arena layout of the layer outputs, and the estimate the guard
compares with the limit (nothing is allocated to compute either)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..analysis.analyzer import Analysis
from ..analysis.memory import step_buffers, step_workspace
from ..analysis.plan import Plan, cat_views, plan
from ..errors import ConvcalcError
from ..layers.vocabulary import LAYERS
from ..records import Row, Shape
from ..units import in_words, mb
from . import kernels as K
from .weights import winograd_tile


class MemoryEstimate(NamedTuple):
    batch: int
    weights: int  # parameters and buffers
    activations: int  # layer outputs: the planned region, plus the most of the others at once
    workspace: int  # padded inputs, im2col chunks and temporaries of the largest step
    arena: int = 0  # the scratch region: the largest step's named buffers

    @property
    def total(self) -> int:
        return self.weights + self.activations + self.workspace


class MemoryLimitError(ConvcalcError):
    """The estimated memory of the pass exceeds the limit; nothing was allocated.

    ``needs`` says what the pass needs against the limit, ``culprit`` (when one layer is most
    of it) which layer: the CLI words its own advice after them."""

    def __init__(
        self, estimate: MemoryEstimate, limit: int, default: bool, culprit: str | None = None
    ) -> None:
        self.estimate = estimate
        self.limit = limit
        self.default = default
        self.culprit = culprit
        why = " (half the available memory)" if default else ""
        self.needs = (
            f"the forward pass needs about {mb(estimate.total, 0)} at batch "
            f"{estimate.batch:,} (weights {mb(estimate.weights, 0)}, activations "
            f"{mb(estimate.activations, 0)}, workspace {mb(estimate.workspace, 0)}) but the "
            f"limit is {mb(limit, 0)}{why}"
        )
        blame = f"; {culprit}" if culprit else ""
        super().__init__(f"{self.needs}{blame}; use a smaller input or batch, or raise the limit")


def culprit(rows: Sequence[Row], estimate: MemoryEstimate) -> Row | None:
    """The layer that holds most of the larger part of the estimate, when that part is the
    weights (the layer with the most) or the activations (the largest output)."""
    if len(rows) < 2 or estimate.workspace >= max(estimate.weights, estimate.activations):
        return None
    if estimate.weights >= estimate.activations:
        return max(rows, key=lambda r: r.weights)
    return max(rows[1:], key=lambda r: _size(r.output, 1))


def blame(row: Row, estimate: MemoryEstimate, itemsize: int) -> str:
    """``fc1 alone holds 34,359,738,368 weights (34.4 billion, 131,072 MB)``."""
    if estimate.weights >= estimate.activations:
        words = f"{in_words(row.weights)}, " if row.weights >= 10**6 else ""
        return (f"{row.name} alone holds {row.weights:,} weights ({words}"
                f"{mb(row.weights * itemsize, 0)})")  # fmt: skip
    w, h, d = row.output
    size = _size(row.output, estimate.batch) * itemsize
    return f"{row.name}'s output alone is {w:,}×{h:,}×{d:,} per image ({mb(size, 0)} a batch)"


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


#: above this many arrays to place, the layout is not planned (the search is quadratic)
LAYOUT_MAX = 5000


def _takes(row: Row) -> bool:
    """Whether the row's kernel takes a fresh output buffer from the arena (activations, BN
    and ADD only when they do not run in place): the merges do, the layer types say."""
    layer = LAYERS.get(row.type)
    return layer.arena_output if layer is not None else True


class Layout(NamedTuple):
    """Where each step's output lives in one region, planned before the pass."""

    slots: Mapping[int, tuple[int, int]]  # step -> (offset, bytes) of the array it makes
    size: int  # bytes of the region
    #: step -> (offset, bytes, first channel): an output computed straight into channels of
    #: a CAT's array (see ``plan.cat_views``), whose slot starts at offset and spans bytes
    views: Mapping[int, tuple[int, int, int]] = {}


Views = Mapping[int, tuple[int, int]]


def _roots(views: Views) -> dict[int, tuple[int, int]]:
    """Value -> (the CAT whose own array holds it, its first channel there): nested CATs
    resolved to the outermost."""
    out: dict[int, tuple[int, int]] = {}
    for v in views:
        root, channel = v, 0
        while root in views:
            root, at = views[root]
            channel += at
        out[v] = (root, channel)
    return out


def lifetimes(
    rows: Sequence[Row], p: Plan, batch: int, itemsize: int, views: Views | None = None
) -> list[tuple[int, int, int, int, bool]]:
    """(value, first step, last step, bytes, planned) of every array a step creates. A value
    that lives in a CAT's array (``views``, see ``plan.cat_views``) is no array of its own:
    the CAT's lives from the first of them to the last read of any."""
    last_value = p.value[len(rows) - 1]
    roots = _roots(views or {})
    out: dict[int, tuple[int, int, int, int, bool]] = {}
    for s, step in enumerate(p.steps):
        head = step.rows[0]
        if p.value[step.rows[-1]] != head:  # in place, or an alias: no new array
            continue
        planned = _takes(rows[head]) and head not in p.in_place and head != last_value
        end = p.last_read.get(head, len(p.steps))  # never read: alive to the end
        out[head] = (head, s, end, _size(rows[head].output, batch) * itemsize, planned)
    for v, (root, _) in roots.items():
        _, first, last, _, _ = out.pop(v)
        r, f, la, nbytes, planned = out[root]
        out[root] = (r, min(f, first), max(la, last), nbytes, planned)
    return sorted(out.values(), key=lambda x: x[1])


def _steps(p: Plan) -> dict[int, int]:
    """Value -> the step that makes its array."""
    return {step.rows[0]: s for s, step in enumerate(p.steps)}


def layout(analysis: Analysis, batch: int, itemsize: int, the_plan: Plan | None = None) -> Layout:
    """Offsets for the arrays of the pass in one region, greedy by size (largest first,
    each at the lowest offset free for its whole lifetime), as TensorFlow Lite plans its
    arena. The region is paged in with the weights, before the clock starts: a step then
    writes to memory that is already mapped, as a framework's second call does. Arrays the
    kernels allocate themselves (FC, GAP, LRN, UP outputs, the last output) are not in it.
    The inputs a CAT's output can hold are views of its slot (see ``plan.cat_views``)."""
    p = the_plan or plan(analysis.rows)
    views = cat_views(analysis.rows, p)
    items = [x for x in lifetimes(analysis.rows, p, batch, itemsize, views) if x[4]]
    if len(items) > LAYOUT_MAX:
        return Layout({}, 0)
    align = K.Arena.ALIGN
    placed: list[tuple[int, int, int, int]] = []  # (offset, end offset, first, last step)
    slots: dict[int, tuple[int, int]] = {}
    step_of = _steps(p)
    size = 0
    for value, first, last, nbytes, _ in sorted(items, key=lambda x: (-x[3], x[1])):
        busy = sorted((o, e) for o, e, f, l_ in placed if f <= last and l_ >= first)
        offset = 0
        for o, e in busy:
            if o - offset >= nbytes:
                break
            offset = max(offset, -(-e // align) * align)
        placed.append((offset, offset + nbytes, first, last))
        slots[step_of[value]] = (offset, nbytes)
        size = max(size, offset + nbytes)
    in_cat = {step_of[v]: (*slots[step_of[root]], ch) for v, (root, ch) in _roots(views).items()}
    return Layout(slots, size, in_cat)


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
        if m := winograd_tile(r, batch):
            weights += r.weights * ((m + 2) ** 2 - 9) // 9 * itemsize
    planned_layout = the_layout or layout(analysis, batch, itemsize, p)
    region = planned_layout.size
    views = cat_views(rows, p) if region else None  # unplanned, a CAT copies its inputs
    born: dict[int, list[tuple[int, int]]] = {}
    for v, first, _, nbytes, planned in lifetimes(rows, p, batch, itemsize, views):
        if not planned or region == 0:
            born.setdefault(first, []).append((v, nbytes))
    dies: dict[int, list[int]] = {}
    for value, last in p.last_read.items():
        if value != p.value[len(rows) - 1]:
            dies.setdefault(last, []).append(value)
    live: dict[int, int] = {}
    peak = workspace = arena = 0
    for s, step in enumerate(p.steps):
        live.update(born.get(s, ()))
        peak = max(peak, sum(live.values()))
        buffers = step_buffers(rows, step, batch, itemsize)
        arena = max(arena, step_workspace({k: n for k, n in buffers.items() if k != "temp"}))
        workspace = max(workspace, step_workspace(buffers))
        for value in dies.get(s, ()):
            live.pop(value, None)
    return MemoryEstimate(batch, weights, region + peak, workspace, arena)
