"""The structure of a volumes diagram, read from the analysis: which rows are drawn as volumes,
how the branches of each merge nest, what repeats, and which layers carry findings.

Nothing here is typed in by hand, as it is in PlotNeuralNet's TikZ or NN-SVG's form: the
rows' ``inputs`` are the graph, and the graph is series-parallel (the grammar makes it so), so
a merge's branches are the paths back from its inputs to the row that dominates it (the fork).
A row that keeps the shape and holds no volume of its own (RELU, BN, DROPOUT, ID, SKIP, ...)
is drawn with the volume before it. svg.py lays the structure out and draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..analysis.analyzer import Analysis
from ..errors import Finding, Severity
from ..layers.merges import MERGES
from ..records import Row, show_shape
from .text import describe

#: Rows drawn with the volume before them: they keep its shape (FLATTEN only relabels it, as a
#: view) and make no volume a figure would show.
PASSTHROUGH = frozenset({
    "RELU", "LRELU", "ELU", "GELU", "SIGMOID", "TANH", "SOFTMAX", "RELU6", "HSWISH",
    "HSIGMOID", "SILU", "SWISH", "BN", "LN", "SCALE", "LRN", "DROPOUT", "DROPPATH", "ID",
    "SKIP", "SHUFFLE", "FLATTEN",
})  # fmt: skip
#: The colour family of each volume-making layer type.
KIND = {
    "INPUT": "input", "CONV": "conv", "LOCAL": "conv", "LINEAR": "conv", "TCONV": "up",
    "UP": "up", "POOL": "pool", "APOOL": "pool", "GAP": "pool", "FC": "fc", "SLICE": "slice",
}  # fmt: skip


class Block(NamedTuple):
    """One volume: the row that makes it and the pass-through rows drawn with it."""

    row: int
    extras: tuple[int, ...] = ()


class Junction(NamedTuple):
    """A merge (``row`` None: the analysis stopped before it) and its branches, each a list
    of items; a branch with no volume is drawn as a line (an identity, a SKIP)."""

    row: int | None
    branches: tuple[list[Item], ...]
    extras: tuple[int, ...] = ()


class Fold(NamedTuple):
    """``items`` repeated ``times`` times in a row: the same layers with the same arguments
    and findings. Their shapes may differ (DenseNet's layers each add 32 channels): ``last``
    is then the last repetition's output, which the frame names."""

    items: list[Item]
    times: int
    hidden: tuple[int, ...]  # the rows of the repetitions not drawn
    last: str | None = None


class Lead(NamedTuple):
    """Pass-through rows at the start of a branch, before any volume (a line)."""

    rows: tuple[int, ...]


class Stop(NamedTuple):
    """Where the analysis stopped: the errors that left no shape to propagate."""

    findings: tuple[Finding, ...]


Item = Block | Junction | Fold | Lead | Stop


class Diagram(NamedTuple):
    """What svg.py draws: the items of the main chain, the rows, and the findings per row."""

    analysis: Analysis
    items: list[Item]
    flags: dict[int, tuple[Severity, tuple[str, ...]]]  # row → worst severity, codes


def is_volume(row: Row) -> bool:
    """Whether a row is drawn as a volume of its own (a box, or a bar for FC)."""
    return row.type not in PASSTHROUGH and row.type not in MERGES


def build(analysis: Analysis, *, fold: bool = False) -> Diagram:
    rows = analysis.rows
    flags = _flags(analysis)
    items = _grouped(_raw_chain(rows), rows) if rows else []
    names = {r.name for r in rows}
    stopped = tuple(
        f
        for f in analysis.findings
        if f.severity is Severity.ERROR and (f.layer is None or f.layer not in names)
    )
    if stopped and analysis.output is None:
        items.append(Stop(stopped))
    if fold:
        items = _folded(items, rows, flags, {})
    return Diagram(analysis, items, flags)


def _flags(analysis: Analysis) -> dict[int, tuple[Severity, tuple[str, ...]]]:
    """Each row with an error or a warning: the worst severity and the codes, in order."""
    index = {r.name: i for i, r in enumerate(analysis.rows)}
    found: dict[int, list[Finding]] = {}
    for f in analysis.findings:
        if f.severity >= Severity.WARNING and f.layer is not None and f.layer in index:
            found.setdefault(index[f.layer], []).append(f)
    return {
        i: (max(f.severity for f in fs), tuple(dict.fromkeys(f.code for f in fs)))
        for i, fs in found.items()
    }


# -- the graph: dominators give each merge its fork ------------------------------------------

Raw = tuple[int, tuple[list["Raw"], ...] | None]  # (row, branches of a merge | None)


def _raw_chain(rows: Sequence[Row]) -> list[Raw]:
    """The rows as nested chains: each merge with its branches back to its fork."""
    n = len(rows)
    idom = [-1] * n
    depth = [0] * n

    def common(a: int, b: int) -> int:
        while a != b:
            if a == -1 or b == -1:
                return -1
            if depth[a] >= depth[b]:
                a = idom[a]
            else:
                b = idom[b]
        return a

    read = [False] * n
    for i, row in enumerate(rows):
        for j in row.inputs:
            read[j] = True
        if row.inputs:
            d = row.inputs[0]
            for j in row.inputs[1:]:
                d = common(d, j)
            idom[i] = d
            depth[i] = depth[d] + 1 if d >= 0 else 0

    def chain(end: int, stop: int) -> list[Raw]:
        items: list[Raw] = []
        v = end
        while v != stop and v != -1:
            row = rows[v]
            if len(row.inputs) > 1:
                fork = idom[v]
                items.append((v, tuple(chain(j, fork) for j in row.inputs)))
                v = fork
            else:
                items.append((v, None))
                v = row.inputs[0] if row.inputs else -1
        items.reverse()
        return items

    sinks = [i for i in range(n) if not read[i]]
    if len(sinks) == 1:
        return chain(sinks[0], -1)
    # the analysis stopped inside a merge: its branches end open
    fork = sinks[0]
    for s in sinks[1:]:
        fork = common(fork, s)
    return [*chain(fork, -1), (-1, tuple(chain(s, fork) for s in sinks))]


def _grouped(raw: list[Raw], rows: Sequence[Row]) -> list[Item]:
    """Raw chains → items: pass-through rows join the volume (or merge) before them."""
    items: list[Item] = []
    for index, branches in raw:
        if branches is not None:
            groups = tuple(_grouped(b, rows) for b in branches)
            items.append(Junction(None if index < 0 else index, groups))
            continue
        if is_volume(rows[index]):
            items.append(Block(index))
            continue
        last = items[-1] if items else None
        if isinstance(last, Block | Junction):
            items[-1] = last._replace(extras=(*last.extras, index))
        elif isinstance(last, Lead):
            items[-1] = Lead((*last.rows, index))
        else:
            items.append(Lead((index,)))
    return items


def rows_of(item: Item) -> list[int]:
    """Every row an item draws (a fold: its first repetition)."""
    if isinstance(item, Block):
        return [item.row, *item.extras]
    if isinstance(item, Lead):
        return list(item.rows)
    if isinstance(item, Junction):
        inner = [r for b in item.branches for i in b for r in rows_of(i)]
        return [*inner, *([] if item.row is None else [item.row]), *item.extras]
    if isinstance(item, Fold):
        return [r for i in item.items for r in rows_of(i)]
    return []


def every_row(item: Item) -> list[int]:
    """Every row an item stands for, the hidden repetitions of folds inside it included."""
    if isinstance(item, Fold):
        return [*(r for i in item.items for r in every_row(i)), *item.hidden]
    if isinstance(item, Junction):
        inner = [r for b in item.branches for i in b for r in every_row(i)]
        return [*inner, *([] if item.row is None else [item.row]), *item.extras]
    return rows_of(item)


# -- folding repeated stages -----------------------------------------------------------------

Signature = tuple[object, ...]


def _signature(
    item: Item,
    rows: Sequence[Row],
    flags: dict[int, tuple[Severity, tuple[str, ...]]],
    memo: dict[int, Signature],
) -> Signature:
    """What makes two items one stage repeated: types, arguments, codes, nested structure
    (not shapes: a stage that grows the depth, as DenseNet's, still folds)."""
    key = id(item)
    if key in memo:
        return memo[key]

    def one(i: int) -> Signature:
        r = rows[i]
        return (r.type, tuple(sorted(r.args.items())), flags.get(i))

    sig: Signature
    if isinstance(item, Block):
        sig = ("B", one(item.row), tuple(one(i) for i in item.extras))
    elif isinstance(item, Lead):
        sig = ("L", tuple(one(i) for i in item.rows))
    elif isinstance(item, Junction):
        branches = tuple(tuple(_signature(i, rows, flags, memo) for i in b) for b in item.branches)
        head = None if item.row is None else one(item.row)
        sig = ("J", head, branches, tuple(one(i) for i in item.extras))
    elif isinstance(item, Fold):
        inner = tuple(_signature(i, rows, flags, memo) for i in item.items)
        sig = ("F", inner, item.times)
    else:
        sig = ("S", id(item))
    memo[key] = sig
    return sig


MAX_PERIOD = 4


def _folded(
    items: list[Item],
    rows: Sequence[Row],
    flags: dict[int, tuple[Severity, tuple[str, ...]]],
    memo: dict[int, Signature],
) -> list[Item]:
    """Runs of identical items (or of identical groups of up to four) → one Fold each."""
    inner: list[Item] = []
    for item in items:
        if isinstance(item, Junction):
            item = item._replace(
                branches=tuple(_folded(b, rows, flags, memo) for b in item.branches)
            )
        inner.append(item)
    sigs = [_signature(i, rows, flags, memo) for i in inner]
    # an item without the pass-through rows drawn after it: after two exact repetitions, the
    # last may end with other ones (DenseNet's last dense layer before a transition's BN -> RELU)
    cores = [sig[:-1] if sig[0] in ("B", "J") else sig for sig in sigs]
    out: list[Item] = []
    i = 0
    while i < len(inner):
        best_k, best_reps = 1, 1
        for k in range(1, MAX_PERIOD + 1):
            reps = 1
            while (
                i + (reps + 1) * k <= len(sigs)
                and sigs[i + reps * k : i + (reps + 1) * k] == (sigs[i : i + k])
            ):
                reps += 1
            end = i + (reps + 1) * k
            if (
                reps > 1
                and end <= len(sigs)
                and (
                    sigs[end - k : end - 1] == sigs[i : i + k - 1]
                    and cores[end - 1] == cores[i + k - 1]
                    and not any(r in flags for r in rows_of(inner[end - 1]))  # never hide a finding
                )
            ):
                reps += 1
            if reps > 1 and reps * k > best_k * best_reps:
                best_k, best_reps = k, reps
        if best_reps > 1:
            span = inner[i : i + best_k * best_reps]
            hidden = tuple(r for it in span[best_k:] for r in every_row(it))
            first, final = rows_of(span[best_k - 1])[-1], rows_of(span[-1])[-1]
            shape = show_shape(rows[final].output)
            last = shape if rows[final].output != rows[first].output else None
            unit = _folded(span[:best_k], rows, flags, memo) if best_k > 1 else span[:1]
            out.append(Fold(unit, best_reps, hidden, last))
            i += best_k * best_reps
        else:
            out.append(inner[i])
            i += 1
    return out


# -- labels ----------------------------------------------------------------------------------


def window_label(row: Row) -> str:
    """What the arrow into a volume says: the filter (``3×3 s2``), the pool, the resize."""
    text = describe(row)
    if row.type in ("CONV", "LOCAL"):
        text = text.removeprefix(row.type + " ")
        groups = row.args.get("groups", 1)
        if isinstance(groups, int) and groups > 1:
            text += f" g{groups}"
    return text


def shape_label(row: Row) -> str:
    return show_shape(row.output)


def full_label(rows: Sequence[Row], indices: Sequence[int]) -> str:
    """``conv1 CONV 3×3 s1 p1 + BN + RELU``: the volume's layer and what is drawn with it."""
    first = rows[indices[0]]
    parts = [f"{first.name} {describe(first)}"]
    parts += [rows[i].type for i in indices[1:]]
    return " + ".join(parts)
