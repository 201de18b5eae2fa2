"""``convcalc expand``: the fully expanded layer list, as a spec or as JSON.

The YAML form is itself a valid spec: every repetition and block call written out, every
argument that differs from the built-in default explicit, every layer labelled with its
name, so checking it again gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..analysis.analyzer import Analysis
from ..analysis.convert import sliding_ignores
from ..expansion.graph import LayerNode, Node
from ..frontend.evaluate import show
from ..layers.vocabulary import LAYERS
from ..records import ArgValue, show_shape
from .escape import json_string, visible
from .rewrite import YAML_WIDTH, rewritten_yaml


def _value(value: ArgValue) -> str:
    if isinstance(value, tuple) and value[0] == value[1]:
        return str(value[0])
    if isinstance(value, float):
        return repr(value)
    return show(value)


def layer_text(node: LayerNode) -> str:
    layer = LAYERS[node.type]
    parts: list[str] = []
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
        positional = i < layer.positionals and i == len(parts)
        parts.append(shown if positional else f"{spec.name}={shown}")
    args = f"({', '.join(parts)})" if parts else ""
    return f"{node.type}{args}@{node.name}"


Rewrite = Callable[[LayerNode], str | None]


def _lines(nodes: list[Node], indent: str, first: bool, rewrite: Rewrite) -> list[str]:
    """The pattern of a node sequence, one layer a line; ``rewrite`` may replace a layer's
    text (or drop the layer with an empty string)."""
    lines: list[str] = []
    for node in nodes:
        arrow = "" if first and not lines else "-> "
        if isinstance(node, LayerNode):
            text = rewrite(node)
            text = layer_text(node) if text is None else text
            if text:
                lines.append(f"{indent}{arrow}{text}")
            continue
        lines.append(f"{indent}{arrow}{node.kind}{{")
        for b, branch in enumerate(node.branches):
            if b:
                lines.append(f"{indent}  |")
            inner = _lines(branch, indent + "    ", True, rewrite)
            lines.extend(inner or [f"{indent}    [ID]*0"])  # an empty branch stays empty
        lines.append(f"{indent}  }}@{node.name}")
    return lines


def folded(key: str, value: str, width: int = YAML_WIDTH) -> list[str]:
    """``key: "value"`` as a YAML double-quoted scalar in lines of at most ``width``: a line
    ends after a space with ``\\``, an escaped line break that YAML drops together with the
    next line's indentation, so the value reads back unchanged."""
    quoted = f"{key}: {json_string(value)}"
    lines: list[str] = []
    while len(quoted) > width:
        # after a space that is not followed by another one (YAML drops leading spaces)
        breaks = [i + 1 for i in range(len(quoted) - 1) if quoted[i] == " " and
                  quoted[i + 1] != " " and i + 1 <= width - 1 and i > len(key) + 2]  # fmt: skip
        if not breaks:
            break
        lines.append(quoted[: breaks[-1]] + "\\")
        quoted = "  " + quoted[breaks[-1] :]
    return [*lines, quoted]


def _keep(node: LayerNode) -> str | None:
    return None


def _top(
    analysis: Analysis,
    input: tuple[int, int, int] | None,
    header: Sequence[str],
    ignore: frozenset[str],
    description: str | None,
) -> list[str]:
    """The header comments and the top-level keys from `name` to `lint`."""
    spec = analysis.spec
    w, h, d = input or analysis.input
    out = [*(f"# {line}" for line in header), f"# expanded by convcalc from {visible(spec.path)}"]
    out.append(f"name: {json_string(spec.name)}")
    if description:
        out += folded("description", description.strip())
    out += [f"input: {w}x{h}x{d}", f"dtype: {spec.dtype}", f"rounding: {analysis.rounding}"]
    out.append(f"memory: {{batch: {spec.batch}, optimizer: {spec.optimizer}}}")
    if spec.budgets:
        budgets = ", ".join(f"{k}: {v}" for k, (v, _) in spec.budgets.items())
        out.append(f"budgets: {{{budgets}}}")
    lint = spec.lint._replace(ignore=spec.lint.ignore | ignore)
    if lint.select is not None or lint.ignore or lint.severity:
        out.append("lint:")
        if lint.select is not None:
            out.append(f"  select: [{', '.join(sorted(lint.select))}]")
        if lint.ignore:
            out.append(f"  ignore: [{', '.join(sorted(lint.ignore))}]")
        if lint.severity:
            levels = ", ".join(f"{c}: {s}" for c, s in lint.severity.items())
            out.append(f"  severity: {{{levels}}}")
    return out


def expanded_yaml(
    analysis: Analysis,
    *,
    rewrite: Rewrite = _keep,
    input: tuple[int, int, int] | None = None,
    header: Sequence[str] = (),
    ignore: frozenset[str] = frozenset(),
    description: str | None = None,
) -> str:
    """A spec with every layer written out, labelled with its name."""
    graph = analysis.graph
    assert graph is not None
    out = _top(analysis, input, header, ignore, description or analysis.spec.description)
    out += [
        "arch: |",
        "  INPUT" + ("" if graph.nodes[0].name == "input" else f"@{graph.nodes[0].name}"),
        *_lines(graph.nodes[1:], "  ", False, rewrite),
    ]
    return "\n".join(out) + "\n"


def converted_yaml(
    original: Analysis, converted: Analysis, variables: Mapping[str, int | bool] | None = None
) -> str:
    """``convert --fc-to-conv``: the converted network as a spec, written as the user wrote
    the original where the text can say it (repetitions and block calls kept), else every
    layer written out. On another input the description says so."""
    spec = original.spec
    header = ["FC layers converted to CONV layers (convcalc convert --fc-to-conv)"]
    ignore = sliding_ignores(original, converted.input)
    description = spec.description
    if converted.input != original.input:
        header.append(", ".join(sorted(ignore)) + " ignored: the converted FC layers slide "
                      "without padding")  # fmt: skip
        description = (
            f"{spec.name} with its FC layers converted to CONV layers, sliding over "
            f"{show_shape(converted.input)} in one pass (the original takes "
            f"{show_shape(original.input)})"
        )
    top = _top(original, converted.input, header, ignore, description)
    top[len(header)] = f"# converted by convcalc from {visible(spec.path)}"
    kept = rewritten_yaml(original, converted, top, variables or {})
    if kept is not None:
        return kept
    return expanded_yaml(converted, input=converted.input, header=header, ignore=ignore,
                         description=description)  # fmt: skip


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
