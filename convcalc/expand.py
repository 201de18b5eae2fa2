"""``convcalc expand``: the fully expanded layer list, as a spec or as JSON.

The YAML form is itself a valid spec: every repetition and block call written out, every
argument that differs from the built-in default explicit, every layer labelled with its
name, so checking it again gives the same rows.
"""

from __future__ import annotations

import json
from typing import Any

from .analysis import Analysis
from .graph import LayerNode, Node
from .layers import LAYERS, ArgValue
from .values import show


def _value(value: ArgValue) -> str:
    if isinstance(value, tuple) and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, float):
        return repr(value)
    return show(value)


def layer_text(node: LayerNode) -> str:
    layer = LAYERS[node.type]
    parts = []
    for i, spec in enumerate(layer.params):
        value = node.args.get(spec.name)
        if value is None:
            continue
        default = spec.default
        if spec.kind in ("pair", "pad") and isinstance(default, int):
            default = (default, default)
        if default == "F":
            default = node.args.get("F")
        if value == default and not (spec.kind == "bool" and type(value) is not type(default)):
            continue
        shown = _value(value)
        parts.append(shown if i == 0 else f"{spec.name}={shown}")
    args = f"({', '.join(parts)})" if parts else ""
    return f"{node.type}{args}@{node.name}"


def _lines(nodes: list[Node], indent: str, first: bool) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        arrow = "" if first and not lines else "-> "
        if isinstance(node, LayerNode):
            lines.append(f"{indent}{arrow}{layer_text(node)}")
            continue
        lines.append(f"{indent}{arrow}{node.kind}{{")
        for b, branch in enumerate(node.branches):
            if b:
                lines.append(f"{indent}  |")
            lines.extend(_lines(branch, indent + "    ", True) if branch else [f"{indent}    ID"])
        lines.append(f"{indent}  }}@{node.name}")
    return lines


def expanded_yaml(analysis: Analysis) -> str:
    spec = analysis.spec
    graph = analysis.graph
    assert graph is not None
    w, h, d = analysis.input
    out = [
        f"# expanded by convcalc from {spec.path}",
        f"name: {json.dumps(spec.name, ensure_ascii=False)}",
    ]
    if spec.description:
        out.append(f"description: {json.dumps(spec.description.strip(), ensure_ascii=False)}")
    out += [
        f"input: {w}x{h}x{d}",
        f"dtype: {spec.dtype}",
        f"rounding: {analysis.rounding}",
        "arch: |",
        "  INPUT" + ("" if graph.nodes[0].name == "input" else f"@{graph.nodes[0].name}"),
        *_lines(graph.nodes[1:], "  ", False),
    ]
    return "\n".join(out) + "\n"


def expanded_json(analysis: Analysis) -> dict[str, Any]:
    names = [row.name for row in analysis.rows]
    return {
        "version": 1,
        "file": analysis.spec.path,
        "name": analysis.spec.name,
        "input": list(analysis.input),
        "layers": [
            {
                "name": row.name,
                "type": row.type,
                "args": {k: list(v) if isinstance(v, tuple) else v for k, v in row.args.items()},
                "inputs": [names[i] for i in row.inputs],
                "output": list(row.output),
                "line": row.location.line,
                "column": row.location.column,
            }
            for row in analysis.rows
        ],
    }
