"""The notes' FC→CONV conversion, on the expanded graph: each FC becomes the CONV whose filter
covers the volume it reads (F=7 on VGG-16's 7×7×512, then F=1), with the same weights; a
FLATTEN before an FC goes. The converted graph is analysed directly (the spec is not
expanded or analysed again), at the spec's input or a larger one.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..expansion.graph import LayerGraph, LayerNode, MergeNode, Node
from ..records import ArgValue, Shape
from ..rules.lint import LintConfig
from .analyzer import Analysis, analyze_graph


def conv_args(row_input: Shape, fc: Mapping[str, ArgValue]) -> dict[str, ArgValue]:
    """The CONV arguments of an FC that reads a W×H×D volume: F=(W, H), no padding."""
    w, h, _ = row_input
    return {"K": fc["K"], "F": (w, h), "S": (1, 1), "P": (0, 0), "dilation": (1, 1),
            "groups": 1, "bias": fc["bias"]}  # fmt: skip


def converted_graph(analysis: Analysis) -> LayerGraph:
    """The analysed graph with every FC a CONV and every FLATTEN before an FC gone."""
    graph = analysis.graph
    assert graph is not None and analysis.output is not None
    rows = {row.name: row for row in analysis.rows}
    readers: dict[int, list[str]] = {}
    for row in analysis.rows:
        for j in row.inputs:
            readers.setdefault(j, []).append(row.type)
    dropped = {
        row.name
        for i, row in enumerate(analysis.rows)
        if row.type == "FLATTEN" and "FC" in readers.get(i, [])
    }

    def fc_input(row_name: str) -> Shape:
        row = rows[row_name]
        source = analysis.rows[row.inputs[0]]
        return source.input_shapes[0] if source.name in dropped else row.input_shapes[0]

    def copy(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for node in nodes:
            if isinstance(node, MergeNode):
                branches = tuple(copy(b) for b in node.branches)
                out.append(MergeNode(node.kind, branches, node.span, node.trace, node.label,
                                     node.name, node.label_span))  # fmt: skip
            elif node.name in dropped:
                continue
            elif node.type == "FC":
                args = conv_args(fc_input(node.name), node.args)
                out.append(LayerNode("CONV", args, node.span, node.trace, node.label,
                                     node.name, node.label_span))  # fmt: skip
            else:
                out.append(node)
        return out

    return LayerGraph(copy(graph.nodes), graph.findings, graph.layers - len(dropped))


def sliding_ignores(analysis: Analysis, input: Shape | None) -> frozenset[str]:
    """The rules a converted network sliding over a larger input breaks on purpose: its
    converted FC layers are unpadded (CC504) with large filters (CC502, unless the spec
    itself had one)."""
    if input is None or input == analysis.input:
        return frozenset()
    ignore = {"CC504"}
    if not any(f.code == "CC502" for f in analysis.findings):
        ignore.add("CC502")
    return frozenset(ignore)


def fc_to_conv(analysis: Analysis, input: Shape | None = None) -> Analysis:
    """The analysis of the converted network, at ``input`` (default: the spec's), without the
    findings :func:`sliding_ignores` names."""
    graph = converted_graph(analysis)
    ignore = sliding_ignores(analysis, input)
    lint = LintConfig(None, ignore, {}) if ignore else None
    return analyze_graph(analysis.spec, graph, input=input or analysis.input,
                         rounding=analysis.rounding, lint=lint)  # fmt: skip
