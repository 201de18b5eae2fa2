"""The fusion plan: which rows run as one step, which rows share an array, when each dies.

A CONV or FC followed by batch norm, elementwise activations and residual adds is one step
(the rest run on each chunk of its output, see ``runner``). Activations, batch norms and adds
overwrite their input's array when nothing reads it afterwards; ID, DROPOUT, SKIP and FLATTEN
hand their input's array on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..layers.vocabulary import LAYERS
from ..records import Row

#: The merge that sums: it may overwrite a branch's array and run inside a CONV's or FC's step.
#: (Merges have no class yet; the layer types answer through LAYERS.)
ADD = "ADD"


class Step(NamedTuple):
    rows: tuple[int, ...]  # the head first; the others are fused into it
    extra: tuple[tuple[int, tuple[int, ...]], ...] = ()  # fused ADD row -> its other operands' rows


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
        steps.append(Step(tuple(chain), tuple(extra)))
    last_read: dict[int, int] = {}
    for s, step in enumerate(steps):
        for i in step.rows:
            for j in rows[i].inputs:
                last_read[value[j]] = s
    return Plan(tuple(steps), tuple(value), last_read, frozenset(in_place))
