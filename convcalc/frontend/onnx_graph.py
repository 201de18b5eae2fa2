"""A graph of imported layers → one arrow-grammar pattern with ADD/CAT/MUL merges.

The importer (``onnx_reader``) turns operators into :class:`Layer` records: a layer's text
in the arrow grammar and the values it reads. The network is series-parallel when written
in the grammar: every merge reads branches that start at one value, the merge's immediate
dominator (the last value that every path from the input to the merge passes). ``pattern``
writes the chain from the graph's output back to its input, and each merge as
``KIND{ branch | branch }`` with each branch the chain from that fork to one operand (an
empty chain is ``ID``). A layer that two branches would both need is not series-parallel:
:class:`NotSeriesParallel` names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

MERGES = ("ADD", "CAT", "MUL")


class Layer(NamedTuple):
    """One imported layer: its text (``CONV(64, F=3)``, or a merge kind), what it reads (value
    names), the value it writes, and its label (``@name``, from the node's name)."""

    text: str
    inputs: tuple[str, ...]
    output: str
    label: str
    node: str  # the ONNX node it came from, for findings


class NotSeriesParallel(ValueError):
    """The graph needs a layer in two places: the grammar cannot write it."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        super().__init__(layer.node)


def _dominators(source: str, layers: Sequence[Layer]) -> dict[str, tuple[str, int]]:
    """Each value's immediate dominator and depth in the dominator tree (topological order)."""
    idom: dict[str, tuple[str, int]] = {source: (source, 0)}
    for layer in layers:
        ins = [v for v in layer.inputs if v in idom]
        if ins:
            parent = _lca(idom, ins)
            idom[layer.output] = (parent, idom[parent][1] + 1)
    return idom


def _lca(idom: dict[str, tuple[str, int]], values: Sequence[str]) -> str:
    """The nearest value that dominates all of ``values``."""
    a = values[0]
    for b in values[1:]:
        while a != b:
            if idom[a][1] >= idom[b][1]:
                a = idom[a][0]
            else:
                b = idom[b][0]
    return a


def nest_concats(layers: Sequence[Layer]) -> list[Layer]:
    """A CAT whose first operands are those of an earlier CAT reads that CAT instead: DenseNet's
    exporter concatenates every earlier output again in each layer, the grammar once."""
    result: list[Layer] = []
    cats: list[tuple[tuple[str, ...], str]] = []  # each CAT's own operands, and its value
    for layer in layers:
        if layer.text == "CAT":
            own = layer.inputs
            best = max((c for c in cats if len(c[0]) < len(own) and own[: len(c[0])] == c[0]),
                       key=lambda c: len(c[0]), default=None)  # fmt: skip
            if best is not None:
                layer = layer._replace(inputs=(best[1], *own[len(best[0]) :]))
            cats.append((own, layer.output))
        result.append(layer)
    return result


def pattern(source: str, output: str, layers: Sequence[Layer]) -> str:
    """The arrow pattern of the layers from ``source`` to ``output`` (after ``INPUT``)."""
    layers = nest_concats(layers)
    made = {layer.output: layer for layer in layers}
    position = {layer.output: i for i, layer in enumerate(layers)}
    idom = _dominators(source, layers)
    used: set[str] = set()

    def runs(fork: str, operands: Sequence[str]) -> list[list[str]]:
        """Neighbouring CAT operands that fork after ``fork``: a CAT of their own."""
        groups: list[list[str]] = []
        for v in operands:
            if groups and _lca(idom, [*groups[-1], v]) != fork:
                groups[-1].append(v)
            else:
                groups.append([v])
        return groups

    def merge(kind: str, fork: str, operands: Sequence[str], label: str) -> str:
        """``KIND{ a | b }``; ADD's and MUL's branches in the order of their first layers
        (where the spec wrote them), CAT's in the order of its channels."""
        groups = runs(fork, operands) if kind == "CAT" else [[v] for v in operands]
        branches: list[tuple[float, str]] = []
        for group in groups:
            before = set(used)
            if len(group) == 1:
                text = " -> ".join(chain(fork, group[0])) or "ID"
            else:
                inner = _lca(idom, group)
                text = " -> ".join([*chain(fork, inner), merge("CAT", inner, group, "")])
            first = min((position[v] for v in used - before), default=float("inf"))
            branches.append((first, text))
        if kind != "CAT":
            branches.sort(key=lambda b: b[0])
        return f"{kind}{{ {' | '.join(text for _, text in branches)} }}{label}"

    def chain(start: str, end: str) -> list[str]:
        parts: list[str] = []
        value = end
        while value != start:
            layer = made[value]
            if layer.output in used:
                raise NotSeriesParallel(layer)
            used.add(layer.output)
            label = f"@{layer.label}" if layer.label else ""
            if layer.text in MERGES:
                fork = idom[value][0]
                parts.append(merge(layer.text, fork, layer.inputs, label))
                value = fork
            else:
                parts.append(layer.text + label)
                value = layer.inputs[0]
        return parts[::-1]

    return " -> ".join(["INPUT", *chain(source, output)])


def wrap(arch: str, width: int = 96) -> str:
    """The pattern as a YAML ``|`` block: one stage per line where they are long."""
    lines, line = [], ""
    for part in arch.split(" -> "):
        piece = part if not line else f" -> {part}"
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = f"-> {part}"
        else:
            line += piece
    lines.append(line)
    return "\n".join(f"  {x}" for x in lines)
