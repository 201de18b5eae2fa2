"""The fusion plan: which rows run as one step, which rows share an array, when each dies.

A CONV or FC followed by batch norm, elementwise activations and residual adds is one step
(the rest run on each chunk of its output, see ``runner``). A batch norm and
activations *before* a 1×1 CONV (pre-activation, as in DenseNet) whose input others read too
(or a CAT made) join the CONV's step as its prologue: they run on each chunk of its input on
the way into the GEMM, and their own outputs never exist; so does a layer norm before a
LINEAR (ConvNeXt's LN → LINEAR), its γ and β folded into the LINEAR's weights, and a MUL
by a squeeze-and-excitation gate before a 1×1 CONV. Activations,
batch norms and adds overwrite their input's array when nothing reads it afterwards; ID,
DROPOUT, SKIP and FLATTEN hand their input's array on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..layers.vocabulary import LAYERS
from ..records import Row

#: The merge that sums: it may overwrite a branch's array and run inside a CONV's or FC's step.
#: (Merges have no class yet; the layer types answer through LAYERS.)
ADD = "ADD"
#: The merge that multiplies: squeeze-and-excitation's gate, a 1×1 CONV's prologue
MUL = "MUL"


class Step(NamedTuple):
    rows: tuple[int, ...]  # the head first; the others are fused into it
    extra: tuple[tuple[int, tuple[int, ...]], ...] = ()  # fused ADD row -> its other operands' rows
    before: tuple[int, ...] = ()  # the prologue: rows applied to the head's input, in order


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


def _settled(rows: Sequence[Row], j: int, before: int) -> int | None:
    """The row computed before row ``before`` whose array row j will hold, if any: j itself,
    or what an identity row after it (such as SKIP) hands on. Its own array, not its value's:
    a SLICE or FLATTEN shares its input's storage through a view of another shape."""
    while j >= before:
        layer = LAYERS.get(rows[j].type)
        if layer is None or not layer.passes_input:
            return None
        j = rows[j].inputs[0]
    return j


def _fusable(row: Row) -> bool:
    """Whether the row may run on each chunk of a CONV's or FC's output, inside its step."""
    layer = LAYERS.get(row.type)
    return layer.fusable if layer is not None else row.type == ADD


def _takes_prologue(row: Row) -> bool:
    """A CONV that is one GEMM on its input (1×1, stride 1, no padding, ungrouped): its
    input can be transformed chunk by chunk on its way in."""
    layer = LAYERS.get(row.type)
    if row.type != "CONV" or layer is None or not row.input_shapes:
        return False
    args = row.args
    if args["F"] != (1, 1) or args["S"] != (1, 1) or args["groups"] != 1:
        return False
    axes = layer.axes(args, row.input_shapes[0])
    return axes is not None and all(a.before == a.after == 0 for a in axes)


def _may_lead(row: Row) -> bool:
    """Whether the row may start a prologue: a MUL (a gate), or a fusable layer that
    overwrites its input (a batch norm, an activation)."""
    if row.type == MUL:
        return True
    layer = LAYERS.get(row.type)
    return layer is not None and layer.fusable and layer.overwrites


def _pointwise(row: Row) -> bool:
    """A row a prologue can apply: a batch norm, or an elementwise activation."""
    layer = LAYERS.get(row.type)
    if layer is None or not (layer.fusable and layer.overwrites):
        return False
    return row.type == "BN" or layer.epilogue(row.args) is not None


def _normalised(rows: Sequence[Row], readers: Sequence[Sequence[int]], h: int) -> bool:
    """Whether row h is a LINEAR whose input is a row read by it alone that runs as a
    LINEAR's prologue, its affine part folded into the LINEAR's weights (a layer norm: no
    step could take it as an epilogue)."""
    row = rows[h]
    if row.type != "LINEAR" or not row.inputs or row.inputs[0] == 0:
        return False
    j = row.inputs[0]
    layer = LAYERS.get(rows[j].type)
    return layer is not None and layer.prologue(rows[j].args) is not None and readers[j] == [h]


def _gated(rows: Sequence[Row], readers: Sequence[Sequence[int]], h: int) -> bool:
    """Whether row h reads, alone, a MUL of an array of its own volume (first) by 1×1×D
    ones (squeeze-and-excitation's gate): the MUL then runs as h's prologue, on each chunk
    of h's input, and its product is never an array."""
    j = rows[h].inputs[0]
    mul = rows[j]
    if mul.type != MUL or list(readers[j]) != [h] or len(mul.inputs) < 2:
        return False
    w, hh, d = mul.output
    first, *gates = (rows[k].output for k in mul.inputs)
    return first == (w, hh, d) and all(g == (1, 1, d) for g in gates)


def prologues(rows: Sequence[Row], readers: Sequence[Sequence[int]]) -> dict[int, tuple[int, ...]]:
    """Head -> the batch norm and activations before it that run as its prologue: each read
    by the next alone, the first reading an array that other rows read too or that no step
    takes epilogues onto (else the step that makes that array takes them as its epilogue,
    folding the batch norm). A layer norm read by a LINEAR alone is that LINEAR's prologue;
    so is a MUL by 1×1×D gates read by a 1×1 CONV alone."""
    out: dict[int, tuple[int, ...]] = {}
    for h, row in enumerate(rows):
        if _normalised(rows, readers, h):  # a LN → LINEAR: the LN is always its prologue
            out[h] = (row.inputs[0],)
            continue
        # the cheap test first: a prologue needs a MUL, or a fusable layer that overwrites
        # its input, right before (not _pointwise itself: asking for an epilogue imports the
        # kernels, and `check` imports no NumPy)
        if not row.inputs or not _may_lead(rows[row.inputs[0]]) or not _takes_prologue(row):
            continue
        if _gated(rows, readers, h):  # squeeze-and-excitation's MUL → CONV 1×1
            out[h] = (row.inputs[0],)
            continue
        chain: list[int] = []
        j, nxt = row.inputs[0], h
        while j > 0 and _pointwise(rows[j]) and list(readers[j]) == [nxt]:
            chain.insert(0, j)
            j, nxt = rows[j].inputs[0], j
        source = LAYERS.get(rows[j].type)
        absorbs = _fusable(rows[j]) or (source is not None and source.takes_epilogue)
        if chain and (len(readers[j]) > 1 or not absorbs):
            out[h] = tuple(chain)
    return out


def bias_column(rows: Sequence[Row], step: Step) -> bool:
    """Whether the step's GEMM adds its bias itself, as a last column of its weights against
    a column of ones in each chunk of its prologue: a LINEAR whose prologue is a layer norm
    (whose β, folded in, always gives it a bias). One more column to multiply, where adding
    the bias to the output took a pass over K values a position (convnext-tiny's MLPs)."""
    head = rows[step.rows[0]]
    return bool(step.before) and head.type == "LINEAR" and rows[step.before[0]].type == "LN"


def plan(rows: Sequence[Row], *, fuse: bool = True) -> Plan:
    """Steps in row order, which rows share an array, and when each array dies."""
    readers = _readers(rows)
    before = prologues(rows, readers) if fuse else {}
    in_prologue = {i for pre in before.values() for i in pre}
    for h, pre in before.items():  # the prologue's inputs are read when its head runs
        for i in pre:
            for j in rows[i].inputs:
                if j not in in_prologue:
                    readers[j] = [h if r == i else r for r in readers[j]]
    value = list(range(len(rows)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(rows))}  # value -> its rows
    in_place: set[int] = set()
    steps: list[Step] = []
    done: set[int] = set()

    def safe(i: int, v: int) -> bool:
        """Row i may overwrite value v: nobody reads v's current contents after i."""
        return all(r <= i for m in members[v] if m < i for r in readers[m])

    for i, row in enumerate(rows):
        if i in done or i in in_prologue:
            continue
        layer = LAYERS.get(row.type)  # None for a merge
        if layer is not None and layer.in_place:  # ID, DROPOUT, SKIP, FLATTEN
            value[i] = value[row.inputs[0]]
        elif layer is not None and layer.overwrites and safe(i, value[row.inputs[0]]):
            value[i] = value[row.inputs[0]]
            in_place.add(i)
        elif row.type == ADD:
            values = [value[j] for j in row.inputs]
            dead = [v for v in values if values.count(v) == 1 and safe(i, v)]
            if dead:
                value[i] = dead[0]
                in_place.add(i)
        if value[i] != i:
            members[value[i]].append(i)
        chain: list[int] = [i]
        extra: list[tuple[int, tuple[int, ...]]] = []
        if fuse and layer is not None and layer.takes_epilogue:
            tail = i
            while len(readers[tail]) == 1:
                nxt = readers[tail][0]
                if not _fusable(rows[nxt]):
                    break
                if rows[nxt].type == ADD:
                    others = [j for j in rows[nxt].inputs if j != tail]
                    if len(others) != len(rows[nxt].inputs) - 1:
                        break
                    ready = [_settled(rows, j, i) for j in others]
                    if any(v is None for v in ready):
                        break
                    extra.append((nxt, tuple(v for v in ready if v is not None)))
                chain.append(nxt)
                tail = nxt
            for j in chain[1:]:
                value[j] = i
                members[i].append(j)
                done.add(j)
        steps.append(Step(tuple(chain), tuple(extra), before.get(i, ())))
    last_read: dict[int, int] = {}
    for s, step in enumerate(steps):
        for i in step.rows:
            for j in rows[i].inputs:
                if j not in in_prologue:
                    last_read[value[j]] = s
        for i in step.before:  # the prologue's source, and a MUL's gates
            for j in rows[i].inputs:
                if j not in in_prologue:
                    last_read[value[j]] = s
    return Plan(tuple(steps), tuple(value), last_read, frozenset(in_place))


#: Merges that concatenate along the depth, and the heads whose kernels write their output
#: through any strided view the arena hands them (an ungrouped CONV's GEMM, a CAT's copy).
CAT = "CAT"


def _writes_views(row: Row) -> bool:
    if row.type == CAT:
        return True
    return row.type == "CONV" and row.args.get("groups", 1) == 1


def cat_views(rows: Sequence[Row], p: Plan) -> dict[int, tuple[int, int]]:
    """Value -> (the CAT row whose output holds it, its first channel there): the arrays a
    CAT's inputs are computed straight into, as memory-efficient DenseNets do, so the CAT
    copies nothing. An input qualifies when its step makes a fresh array (not in place, not
    an alias) with a kernel that writes through a view, when the CAT is its last reader and
    reads it once, and when the CAT's own output is a fresh array that is not the network's.
    A CAT input that is itself such a CAT nests: DenseNet's block lives in its last CAT."""
    heads = {s.rows[0]: s for s in p.steps}
    step_of = {s.rows[0]: n for n, s in enumerate(p.steps)}
    last_value = p.value[len(rows) - 1]

    def fresh(v: int) -> bool:
        step = heads.get(v)
        return (
            step is not None and p.value[step.rows[-1]] == v and v not in p.in_place
            and v != last_value and v != 0
        )  # fmt: skip

    views: dict[int, tuple[int, int]] = {}
    for c, row in enumerate(rows):
        if row.type != CAT or not fresh(c):
            continue
        values = [p.value[j] for j in row.inputs]
        offset = 0
        for j, v in zip(row.inputs, values, strict=True):
            if (
                values.count(v) == 1 and v not in views and fresh(v)
                and _writes_views(rows[v]) and p.last_read.get(v) == step_of[c]
            ):  # fmt: skip
                views[v] = (c, offset)
            offset += rows[j].output[2]
    return views
