"""`convert --fc-to-conv` as the user wrote the spec: the same `arch` and `blocks`, with each
FC's text replaced by its CONV (and a FLATTEN before an FC removed), so repetitions and block
calls stay as they were. Where one FC of the text stands for layers that convert differently
(``[FC(4096) -> RELU]*2``: F=7, then F=1), the spec is written out expanded instead.

The rewritten text is expanded again and compared, layer by layer, with the converted graph:
a rewrite that does not give the same layers is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from ..analysis.analyzer import Analysis
from ..errors import ConvcalcError
from ..expansion.expander import build
from ..expansion.graph import LayerNode, MergeNode, Node
from ..frontend.spec import Spec, load_text
from ..records import ArgValue
from ..source import Source, Span
from .escape import json_string

_BUILTIN = {"S": "1", "P": "0", "dilation": "1", "groups": "1"}
_SUGAR = re.compile(r"FC-(\d+)(?:\s*\((.*)\))?", re.S)


def _walk(nodes: Sequence[Node]) -> Iterator[LayerNode | MergeNode]:
    for node in nodes:
        if isinstance(node, MergeNode):
            for branch in node.branches:
                yield from _walk(branch)
        yield node


def _value(value: ArgValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"[{value[0]}, {value[1]}]"
    return repr(value) if isinstance(value, float) else str(value)


_FC_CALL = re.compile(r"FC\s*\((.*)\)", re.S)
_KEYWORD_FIRST = re.compile(r"\s*[A-Za-z_]\w*\s*=")


def _conv_text(span: Span, conv: Mapping[str, ArgValue], spec: Spec) -> str | None:
    """``CONV(4096, F=7)`` for the text of an FC (``FC(4096)``, ``FC-4096``)."""
    text = span.text
    sugar = _SUGAR.fullmatch(text)
    if sugar:
        args = [sugar.group(1), *([sugar.group(2)] if sugar.group(2) else [])]
    elif _FC_CALL.fullmatch(text):
        inner = text[text.index("(") + 1 : -1].strip()
        args = [inner] if inner else []
    elif text == "FC":
        args = []
    else:
        return None
    written = ", ".join(args)
    if not args or written.lstrip().startswith("bias"):
        args.insert(0, str(conv["K"]))
    elif _KEYWORD_FIRST.match(written) and "K" not in written:
        return None  # keyword arguments only, K from defaults: write it out expanded
    f = conv["F"]
    assert isinstance(f, tuple)
    w, h = f
    args.append(f"F={w}" if w == h else f"F=({w}, {h})")
    if conv["bias"] is False and "bias" not in written:
        args.append("bias=false")
    for key in spec.defaults.get("CONV", {}):
        if key in _BUILTIN and not re.search(rf"\b{key}\s*=", written):
            args.append(f"{key}={_BUILTIN[key]}")
    return f"CONV({', '.join(args)})"


def _flatten_region(span: Span) -> tuple[int, int] | None:
    """The text of a FLATTEN stage with its arrow: `-> FLATTEN` (or `FLATTEN ->` first)."""
    text, start, end = span.source.text, span.start, span.end
    if re.match(r"\s*[@*?(]", text[end:]):
        return None
    before = text[:start].rstrip()
    if before.endswith("->"):
        return len(before[:-2].rstrip()), end
    after = re.match(r"\s*->\s*", text[end:])
    return (start, end + after.end()) if after else None


class _Text:
    """The edits of one source: plain ones, and repetitions written out (``[FC -> RELU]*2``
    whose FC converts differently in each repetition) with the edits of each."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.plain: dict[tuple[int, int], str] = {}
        self.unrolled: dict[tuple[int, int], dict[int, dict[tuple[int, int], str]]] = {}

    def text(self) -> str:
        text = self.source.text
        pieces: list[tuple[tuple[int, int], str | None]] = list(self.plain.items())
        pieces += [(r, None) for r in self.unrolled]
        for (start, end), new in sorted(pieces, key=lambda p: p[0], reverse=True):
            if new is None:
                new = self._unrolled(text, start, end)
            text = text[:start] + new + text[end:]
        return text

    def _unrolled(self, text: str, start: int, end: int) -> str:
        """The repetitions of ``[...]*n`` written out, alike ones kept together
        (``[CONV(1, F=32)] -> [CONV(1, F=1)]*19998``); a copy alone keeps its labels."""
        term_end = start + text[start:end].rindex("*")
        copies = self.unrolled[(start, end)]
        plain = [
            (n, _edited(text, start, term_end, {r: t.split("@")[0] for r, t in copies[n].items()}))
            for n in sorted(copies)
        ]
        runs: list[tuple[int, str, int]] = []  # (first number, text, count)
        for n, piece in plain:
            if runs and runs[-1][1] == piece:
                runs[-1] = (runs[-1][0], piece, runs[-1][2] + 1)
            else:
                runs.append((n, piece, 1))
        return " -> ".join(
            _edited(text, start, term_end, copies[n]) if k == 1 else f"{piece}*{k}"
            for n, piece, k in runs
        )


def _edited(text: str, start: int, end: int, table: Mapping[tuple[int, int], str]) -> str:
    piece = text[start:end].rstrip()
    for (a, b), new in sorted(table.items(), reverse=True):
        piece = piece[: a - start] + new + piece[b - start :]
    return piece


def _label(
    result: dict[int, _Text], places: dict[tuple[int, tuple[int, int], int], list[LayerNode]]
) -> None:
    """A converted FC written once keeps its name as a label (`CONV(4096, F=7)@fc1`), so the
    converted spec names its layers as the original did."""
    for (source, region, number), nodes in places.items():
        node = nodes[0]
        if len(nodes) != 1 or node.type != "FC" or node.label is not None:
            continue
        text = result[source]
        table = (
            text.plain
            if number == 0
            else next(
                copies[number] for u, copies in text.unrolled.items() if u[0] <= region[0] < u[1]
            )
        )
        table[region] += f"@{node.name}"


def _repetition(node: LayerNode) -> tuple[tuple[int, int], int] | None:
    """The innermost literal repetition around a layer's text: (its region with `*n`, the
    layer's repetition number)."""
    span = node.span
    for frame in reversed(node.trace):
        f = frame.span
        if frame.times and f.source is span.source and f.start <= span.start < f.end:
            rest = f.source.text[f.end :]
            m = re.match(r"\s*\*\s*(\d+)(?![\w(])(?!\s*over\b)", rest)
            if m is None or int(m.group(1)) != frame.times:
                return None
            return (f.start, f.end + m.end()), frame.number
    return None


def _edits(original: Analysis, converted: Analysis) -> dict[int, _Text] | None:
    """The text edits per source, or None when the text cannot say the converted network."""
    assert original.graph is not None and converted.graph is not None
    convs = {n.name: n for n in _walk(converted.graph.nodes) if isinstance(n, LayerNode)}
    plans: list[tuple[LayerNode, tuple[int, int], str]] = []
    kept: set[tuple[int, int, int]] = set()
    texts: dict[tuple[object, ...], str | None] = {}
    for node in _walk(original.graph.nodes):
        if not isinstance(node, LayerNode):
            continue
        span = node.span
        new: str | None
        region: tuple[int, int] | None
        if node.type == "FC":
            conv = convs[node.name].args
            said = (span.text, *conv.items())  # an FC written alike converts alike
            if said not in texts:
                texts[said] = _conv_text(span, conv, original.spec)
            new, region = texts[said], (span.start, span.end)
        elif node.type == "FLATTEN" and node.name not in convs:
            new, region = "", _flatten_region(span)
        else:
            kept.add((id(span.source), span.start, span.end))
            continue
        if new is None or region is None:
            return None
        plans.append((node, region, new))
    first: dict[tuple[int, tuple[int, int]], str] = {}
    clash: set[tuple[int, tuple[int, int]]] = set()
    for node, region, new in plans:
        key = (id(node.span.source), region)
        if first.setdefault(key, new) != new:
            clash.add(key)
        if (id(node.span.source), node.span.start, node.span.end) in kept:
            return None  # a FLATTEN kept in one place and removed in another
    result: dict[int, _Text] = {}
    places: dict[tuple[int, tuple[int, int], int], list[LayerNode]] = {}
    for node, region, new in plans:
        source = node.span.source
        text = result.setdefault(id(source), _Text(source))
        if (id(source), region) not in clash:
            text.plain[region] = new
            places.setdefault((id(source), region, 0), []).append(node)
            continue
        around = _repetition(node)
        if around is None:
            return None
        table = text.unrolled.setdefault(around[0], {}).setdefault(around[1], {})
        if table.setdefault(region, new) != new:
            return None
        places.setdefault((id(source), region, around[1]), []).append(node)
    _label(result, places)
    for text in result.values():
        for region in [r for r in text.plain if any(u[0] <= r[0] < u[1] for u in text.unrolled)]:
            new = text.plain.pop(region)  # the same in every repetition: in each copy
            for u, copies in text.unrolled.items():
                if u[0] <= region[0] < u[1]:
                    for table in copies.values():
                        table[region] = new
    return result


#: The width of the YAML that `expand` and `convert` print, whatever the terminal: a spec is
#: a file to keep, and only a layer longer than this (none of the bundled specs has one)
#: exceeds it.
YAML_WIDTH = 80


def _block(text: str, indent: int) -> str:
    """A `|` block scalar at ``indent`` (explicit indentation, so any first line works), its
    lines broken before an arrow to fit YAML_WIDTH (the grammar reads a line break as a
    space; the caller checks the result still expands to the same layers)."""
    pad = " " * indent
    lines = [part for line in text.strip().splitlines()
             for part in _fit(line, YAML_WIDTH - indent)]  # fmt: skip
    return "|2\n" + "\n".join(pad + line if line.strip() else "" for line in lines)


def _fit(line: str, width: int) -> list[str]:
    """``line`` cut before `` -> `` arrows into lines of at most ``width`` where it can be,
    each continuation at the line's own indentation."""
    lead = line[: len(line) - len(line.lstrip())]
    out: list[str] = []
    while len(line) > width:
        cuts = [m.start() for m in re.finditer(r" -> ", line) if len(lead) < m.start() <= width]
        if not cuts:
            break
        # between brackets where there is such a cut: `[CONV -> RELU]` stays on one line
        outside = [c for c in cuts if _depth(line[:c]) == 0]
        cuts = outside or cuts
        out.append(line[: cuts[-1]].rstrip())
        line = lead + line[cuts[-1] + 1 :]
    return [*out, line]


def _depth(text: str) -> int:
    """How many brackets, braces and parentheses are open at the end of ``text``."""
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def rewritten_yaml(
    original: Analysis,
    converted: Analysis,
    top: list[str],
    variables: Mapping[str, int | bool],
) -> str | None:
    """The converted spec as written, or None when only the expanded form can say it.
    ``top`` holds the header comments and top-level keys (name to lint), already written."""
    spec = original.spec
    edits = _edits(original, converted)
    if edits is None:
        return None
    own = {id(spec.arch.span.source)}
    out = list(top)
    names = {**spec.vars, **variables}
    if names:
        out.append("vars: {" + ", ".join(f"{k}: {_value(v)}" for k, v in names.items()) + "}")
    if spec.defaults:
        out.append("defaults:")
        for kind, args in spec.defaults.items():
            shown = ", ".join(f"{k}: {_value(v)}" for k, v in args.items())
            out.append(f"  {kind}: {{{shown}}}")
    if spec.blocks:
        out.append("blocks:")
        for block in spec.blocks.values():
            source = block.body.span.source
            own.add(id(source))
            body = edits[id(source)].text() if id(source) in edits else source.text
            header = block.header.span.source.text
            out.append(f"  {json_string(header)}: {_block(body, 4)}")
    if any(key not in own for key in edits):
        return None
    arch = spec.arch.span.source
    text = edits[id(arch)].text() if id(arch) in edits else arch.text
    out.append(f"arch: {_block(text, 2)}")
    result = "\n".join(out) + "\n"
    return result if _same_layers(result, converted) else None


def _same_layers(text: str, converted: Analysis) -> bool:
    """Whether the rewritten spec expands to the converted graph's layers."""
    assert converted.graph is not None
    try:
        graph = build(load_text(text, "<converted>"))
    except ConvcalcError:
        return False
    mine = [getattr(n, "type", getattr(n, "kind", "")) for n in _walk(graph.nodes)]
    theirs = [getattr(n, "type", getattr(n, "kind", "")) for n in _walk(converted.graph.nodes)]
    if mine != theirs:
        return False
    return all(
        a.args == b.args
        for a, b in zip(_walk(graph.nodes), _walk(converted.graph.nodes), strict=True)
        if isinstance(a, LayerNode) and isinstance(b, LayerNode)
    )
