"""The volumes diagram as SVG: every volume a box of W×H×D in oblique perspective, as in the
AlexNet and VGG papers, the filters on the arrows between them, FCs as thin bars, merges as a
junction with their branches stacked side by side.

Sizes are logarithmic, clamped (as NN-SVG's log option, but from the analysed shapes, not
typed-in ones): a side of n pixels of the volume is drawn 8 + 13·log2(n) units long (224 →
109, 7 → 44), a depth of D channels 4 + 5·log2(D) units thick (3 → 12, 512 → 49), so VGG's
224×224×64 and 7×7×512 both read. Layout is two passes over diagram.py's items: measure
(width, extent above and below the centre line), then place.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from ..errors import Severity
from ..records import Row, show_shape
from ..units import megabytes
from .diagram import (
    KIND,
    Block,
    Diagram,
    Fold,
    Item,
    Junction,
    Lead,
    Stop,
    full_label,
    rows_of,
    shape_label,
    window_label,
)
from .escape import visible

LABELS = ("none", "shapes", "full")
THEMES = ("light", "dark")
MARGIN = 16.0
HEADER = 46.0
LINE = 13.0  # a line of label text
PAD = 14.0  # before and after the branches of a merge
VGAP = 18.0  # between stacked branches
RADIUS = 9.0
SYMBOL = {"ADD": "+", "MUL": "×", "CAT": "‖"}

_PALETTE = {
    # kind: (front, top, side) for light and dark
    "light": {
        "input": ("#d4d4d4", "#e8e8e8", "#b0b0b0"),
        "conv": ("#9ec3ee", "#c9ddf6", "#6f9fd6"),
        "pool": ("#f2a1a1", "#f8c9c9", "#d87474"),
        "fc": ("#c2a8e4", "#dccdf0", "#9c7cc8"),
        "up": ("#9fd8a9", "#c8ead0", "#6fba7e"),
        "slice": ("#f0d68f", "#f7e7bb", "#d2b460"),
    },
    "dark": {
        "input": ("#6b6b6b", "#888888", "#4d4d4d"),
        "conv": ("#3d6ea8", "#5a8bc6", "#2a4f7c"),
        "pool": ("#a84a4a", "#c46a6a", "#7c3030"),
        "fc": ("#6c4f99", "#8a6db6", "#4e3672"),
        "up": ("#3f8a4d", "#5aa868", "#2c6336"),
        "slice": ("#9c8433", "#b9a04d", "#73601f"),
    },
}
_INK = {
    "light": {"bg": "#ffffff", "text": "#1f1f1f", "dim": "#5f5f5f", "line": "#4a4a4a"},
    "dark": {"bg": "#1c1d22", "text": "#ececec", "dim": "#a8a8a8", "line": "#b8b8b8"},
}
_FLAG = {Severity.ERROR: "cc-error", Severity.WARNING: "cc-warning"}


def text(value: str) -> str:
    """User-controlled text for an SVG (XML) text node or attribute: control characters
    written as escapes (XML 1.0 cannot hold them), markup characters as entities."""
    return html.escape(visible(value), quote=True)


def text_width(value: str, size: float) -> float:
    return len(value) * size * 0.62


def side(n: int) -> float:
    return min(140.0, 8.0 + 13.0 * math.log2(max(n, 1)))


def thick(d: int) -> float:
    return min(70.0, 4.0 + 5.0 * math.log2(max(d, 1)))


def style(theme: str) -> str:
    ink = _INK[theme]
    rules = [
        f".cc-bg{{fill:{ink['bg']}}}",
        f"text{{font-family:Helvetica,Arial,sans-serif;fill:{ink['text']}}}",
        f".cc-shape{{font-size:10px;text-anchor:middle;fill:{ink['text']}}}",
        f".cc-name{{font-size:9px;text-anchor:middle;fill:{ink['dim']}}}",
        f".cc-win{{font-size:9px;text-anchor:middle;fill:{ink['dim']}}}",
        ".cc-title{font-size:15px;font-weight:bold}",
        f".cc-sub{{font-size:11px;fill:{ink['dim']}}}",
        f".cc-wire{{fill:none;stroke:{ink['line']};stroke-width:1.2}}",
        f".cc-head{{fill:{ink['line']}}}",
        f".cc-vol path{{stroke:{ink['line']};stroke-width:0.8;stroke-linejoin:round}}",
        f".cc-junction circle{{fill:{ink['bg']};stroke:{ink['line']};stroke-width:1.2}}",
        ".cc-junction text{font-size:12px;text-anchor:middle;font-weight:bold}",
        f".cc-fold rect{{fill:none;stroke:{ink['dim']};stroke-dasharray:4 3}}",
        ".cc-fold text{font-size:12px;font-weight:bold;text-anchor:end}",
        ".cc-error .cc-flag{fill:none;stroke:#d62728;stroke-width:2;stroke-dasharray:5 2}",
        ".cc-warning .cc-flag{fill:none;stroke:#e08600;stroke-width:2;stroke-dasharray:5 2}",
        ".cc-error .cc-code{fill:#d62728;font-size:10px;font-weight:bold;text-anchor:middle}",
        ".cc-warning .cc-code{fill:#e08600;font-size:10px;font-weight:bold;text-anchor:middle}",
    ]
    for kind, (front, top, right) in _PALETTE[theme].items():
        rules.append(f".cc-{kind} .cc-f{{fill:{front}}}")
        rules.append(f".cc-{kind} .cc-t{{fill:{top}}}")
        rules.append(f".cc-{kind} .cc-s{{fill:{right}}}")
    return "".join(rules)


def _n(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


class _Renderer:
    """Measures and places the items of one diagram, appending SVG elements to ``out``."""

    def __init__(self, diagram: Diagram, labels: str) -> None:
        self.rows: Sequence[Row] = diagram.analysis.rows
        self.flags = diagram.flags
        self.labels = labels
        self.out: list[str] = []
        self.sizes: dict[int, tuple[float, float, float]] = {}

    # -- geometry of one volume

    def box(self, row: Row) -> tuple[float, float, float]:
        """(thickness along the flow, height, oblique offset) of a volume's box."""
        w, h, d = row.output
        if row.type == "FC":
            return 8.0, min(130.0, 10.0 + 8.0 * math.log2(max(d, 1))), 4.0
        return thick(d), side(h), side(w) * 0.3

    def flag(self, rows: Sequence[int]) -> tuple[Severity, tuple[str, ...]] | None:
        found = [self.flags[r] for r in rows if r in self.flags]
        if not found:
            return None
        codes = tuple(dict.fromkeys(c for _, cs in found for c in cs))
        return max(s for s, _ in found), codes

    def above(self, row: Row, rows: Sequence[int]) -> list[str]:
        """With --labels full, the lines above a box: its layer's name, then its type and
        arguments with the layers drawn with it (the codes of findings go above these)."""
        lines = []
        if self.labels == "full":
            lines = [row.name, full_label(self.rows, rows).split(" ", 1)[1]]
        return lines

    # -- measure: (width, up, down) around the centre line

    def measure(self, item: Item) -> tuple[float, float, float]:
        key = id(item)
        if key not in self.sizes:
            self.sizes[key] = self._measure(item)
        return self.sizes[key]

    def _measure(self, item: Item) -> tuple[float, float, float]:
        if isinstance(item, Block):
            row = self.rows[item.row]
            d, h, o = self.box(row)
            lines = self.above(row, [item.row, *item.extras])
            width = d + o
            widths = [text_width(s, 9) for s in lines]
            up = h / 2 + o + LINE * len(lines)
            flag = self.flag([item.row, *item.extras])
            if flag:
                up += LINE + 4
                widths.append(text_width(" ".join(flag[1]), 10))
            down = h / 2
            if self.labels != "none":
                down += LINE
                widths.append(text_width(shape_label(row), 10))
            return max([width, *widths]) + 4, up, down + 3
        if isinstance(item, Lead):
            return 6.0, 3.0, 3.0
        if isinstance(item, Stop):
            words = "analysis stopped: " + " ".join(dict.fromkeys(f.code for f in item.findings))
            return max(70.0, text_width(words, 10)) + 8, 24.0, 24.0
        if isinstance(item, Fold):
            w, up, down = self.sequence(item.items)
            label = text_width(f"×{item.times} to {item.last}" if item.last else "×99", 12)
            return max(w + 12, label + 4), up + 22, down + 8
        return self._measure_junction(item)

    def trivial(self, branch: list[Item]) -> bool:
        return all(isinstance(i, Lead) for i in branch)

    def stack(self, item: Junction) -> list[tuple[list[Item], float]]:
        """The branches top to bottom, each with its centre line's offset from the merge's:
        identities first (a shortcut line); ADD and MUL keep their first real branch on the
        centre line, a CAT with an identity (U-Net, DenseNet) keeps the identity there and
        hangs the rest below; other CATs (Inception) are centred."""
        kind = "" if item.row is None else self.rows[item.row].type
        lines = [b for b in item.branches if self.trivial(b)]
        real = [b for b in item.branches if not self.trivial(b)]
        order = lines + real
        centre: int | None = len(lines) if real else 0
        if kind == "CAT":
            centre = 0 if lines and real else None
        offsets = []
        y = 0.0
        for i, branch in enumerate(order):
            _, up, down = self.sequence(branch) if not self.trivial(branch) else (0, 3.0, 3.0)
            if i:
                y += up
            offsets.append(y)
            y += down + VGAP
        if centre is not None:
            shift = offsets[centre]
        else:
            first_up = self.sequence(order[0])[1] if not self.trivial(order[0]) else 3.0
            last_down = self.sequence(order[-1])[2] if not self.trivial(order[-1]) else 3.0
            shift = (offsets[0] - first_up + offsets[-1] + last_down) / 2
        return [(b, o - shift) for b, o in zip(order, offsets, strict=True)]

    def _measure_junction(self, item: Junction) -> tuple[float, float, float]:
        width = 0.0
        up, down = RADIUS + 4, RADIUS + 4
        for branch, y in self.stack(item):
            bw, bu, bd = self.sequence(branch) if not self.trivial(branch) else (0.0, 3.0, 3.0)
            width = max(width, bw)
            up = max(up, bu - y)
            down = max(down, bd + y)
        if self.flag(self.junction_rows(item)):
            up += LINE
        return self.entry(item) + width + PAD + 2 * RADIUS, up, down

    def entry(self, item: Junction) -> float:
        """The space before the branches: room for the filter into each branch's first box."""
        labelled = [self.gap(b[0])[0] for b in item.branches if b and self.gap(b[0])[1]]
        return max([PAD, *(w + PAD / 2 for w in labelled)])

    def junction_rows(self, item: Junction) -> list[int]:
        return [*([] if item.row is None else [item.row]), *item.extras]

    def gap(self, nxt: Item) -> tuple[float, str]:
        """The space before an item and what its arrow says (the filter into a volume)."""
        if self.labels == "none" or not isinstance(nxt, Block):
            return 18.0, ""
        row = self.rows[nxt.row]
        if row.type in ("FC", "INPUT"):
            return 18.0, ""
        label = window_label(row)
        return max(20.0, text_width(label, 9) + 8), label

    def sequence(self, items: list[Item]) -> tuple[float, float, float]:
        if not items:
            return 0.0, 3.0, 3.0
        width, up, down = 0.0, 0.0, 0.0
        for i, item in enumerate(items):
            w, u, d = self.measure(item)
            width += w + (self.gap(item)[0] if i else 0.0)
            up, down = max(up, u), max(down, d)
        return width, up, down

    # -- place: draw at (x, centre line), return where wires attach (in, out)

    def wire(self, points: Sequence[tuple[float, float]], arrow: bool = False) -> None:
        d = "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in points)
        end = ' marker-end="url(#cc-arrow)"' if arrow else ""
        self.out.append(f'<path class="cc-wire" d="{d}"{end}/>')

    def place_sequence(self, items: list[Item], x: float, cy: float) -> tuple[float, float]:
        first_in, last_out = x, x
        for i, item in enumerate(items):
            if i:
                g, label = self.gap(item)
                start = last_out
                x += g
                w = self.measure(item)[0]
                attach_in, attach_out = self.place(item, x, cy)
                self.wire([(start, cy), (attach_in - 1, cy)], arrow=True)
                if label:
                    mid = (start + attach_in) / 2
                    self.out.append(
                        f'<text class="cc-win" x="{_n(mid)}" y="{_n(cy - 4)}">{text(label)}</text>'
                    )
                last_out = attach_out
            else:
                w = self.measure(item)[0]
                first_in, last_out = self.place(item, x, cy)
            x += w
        return first_in, last_out

    def place(self, item: Item, x: float, cy: float) -> tuple[float, float]:
        if isinstance(item, Block):
            return self.place_block(item, x, cy)
        if isinstance(item, Lead):
            self.wire([(x, cy), (x + 6, cy)])
            return x, x + 6
        if isinstance(item, Stop):
            return self.place_stop(item, x, cy)
        if isinstance(item, Fold):
            return self.place_fold(item, x, cy)
        return self.place_junction(item, x, cy)

    def place_block(self, item: Block, x: float, cy: float) -> tuple[float, float]:
        row = self.rows[item.row]
        rows = [item.row, *item.extras]
        d, h, o = self.box(row)
        width = self.measure(item)[0]
        bx = x + (width - d - o) / 2
        ty, by = cy - h / 2, cy + h / 2
        flag = self.flag(rows)
        kind = KIND.get(row.type, "conv")
        classes = f"cc-vol cc-{kind}" + (f" {_FLAG[flag[0]]}" if flag else "")
        title = full_label(self.rows, rows) + f" → {show_shape(row.output)}"
        if row.params:
            title += f" · {row.params:,} parameters"
        if row.macs:
            title += f" · {row.macs:,} MACs"
        if flag:
            title += " · " + " ".join(flag[1])
        out = self.out
        out.append(
            f'<g class="{classes}" data-row="{item.row}" data-layer="{text(row.name)}" '
            f'data-shape="{show_shape(row.output)}"><title>{text(title)}</title>'
        )
        out.append(f'<path class="cc-f" d="M{_n(bx)},{_n(ty)}h{_n(d)}v{_n(h)}h{_n(-d)}z"/>')
        out.append(
            f'<path class="cc-t" d="M{_n(bx)},{_n(ty)}l{_n(o)},{_n(-o)}h{_n(d)}'
            f'l{_n(-o)},{_n(o)}z"/>'
        )
        out.append(
            f'<path class="cc-s" d="M{_n(bx + d)},{_n(ty)}l{_n(o)},{_n(-o)}v{_n(h)}'
            f'l{_n(-o)},{_n(o)}z"/>'
        )
        centre = bx + (d + o) / 2
        top = ty - o
        for line in reversed(self.above(row, rows)):
            top -= LINE
            out.append(
                f'<text class="cc-name" x="{_n(centre)}" y="{_n(top + 10)}">{text(line)}</text>'
            )
        if self.labels != "none":
            out.append(
                f'<text class="cc-shape" x="{_n(centre)}" y="{_n(by + 12)}">'
                f"{shape_label(row)}</text>"
            )
        if flag:
            out.append(
                f'<rect class="cc-flag" x="{_n(bx - 3)}" y="{_n(ty - o - 3)}" '
                f'width="{_n(d + o + 6)}" height="{_n(h + o + 6)}" rx="3"/>'
            )
            out.append(
                f'<text class="cc-code" x="{_n(centre)}" y="{_n(top - 6)}">'
                f"{text(' '.join(flag[1]))}</text>"
            )
        out.append("</g>")
        return bx, bx + d + o

    def place_stop(self, item: Stop, x: float, cy: float) -> tuple[float, float]:
        width = self.measure(item)[0]
        codes = " ".join(dict.fromkeys(f.code for f in item.findings))
        where = ", ".join(dict.fromkeys(f.layer or "" for f in item.findings[:3])).strip(", ")
        title = "; ".join(f.message for f in item.findings[:3])
        self.out.append(
            f'<g class="cc-stop cc-error"><title>{text(title)}</title>'
            f'<rect class="cc-flag" x="{_n(x)}" y="{_n(cy - 20)}" width="{_n(width - 8)}" '
            f'height="40" rx="4"/><text class="cc-code" x="{_n(x + (width - 8) / 2)}" '
            f'y="{_n(cy - 2)}">analysis stopped: {text(codes)}</text>'
            f'<text class="cc-name" x="{_n(x + (width - 8) / 2)}" y="{_n(cy + 12)}">'
            f"{text(where)}</text></g>"
        )
        return x, x + width - 8

    def place_fold(self, item: Fold, x: float, cy: float) -> tuple[float, float]:
        width = self.measure(item)[0]
        _, inner_up, inner_down = self.sequence(item.items)
        self.out.append(f'<g class="cc-fold" data-times="{item.times}">')
        self.out.append(
            f'<rect x="{_n(x)}" y="{_n(cy - inner_up - 6)}" width="{_n(width)}" '
            f'height="{_n(inner_up + inner_down + 12)}" rx="6"/>'
            f'<text x="{_n(x + width)}" y="{_n(cy - inner_up - 10)}">×{item.times}'
            + (f" to {item.last}" if item.last else "")
            + "</text>"
        )
        self.out.append("</g>")
        attach_in, attach_out = self.place_sequence(item.items, x + 6, cy)
        self.wire([(x, cy), (attach_in, cy)])
        self.wire([(attach_out, cy), (x + width, cy)])
        return x, x + width

    def place_junction(self, item: Junction, x: float, cy: float) -> tuple[float, float]:
        width = self.measure(item)[0]
        xj = x + width - RADIUS
        entry = self.entry(item)
        left, right = x + PAD / 2, xj - RADIUS - PAD / 2
        for branch, offset in self.stack(item):
            y = cy + offset
            if self.trivial(branch):
                self.wire(
                    [(x, cy), (left, cy), (left, y), (right, y), (right, cy), (xj - RADIUS, cy)]
                )
                continue
            attach_in, attach_out = self.place_sequence(branch, x + entry, y)
            self.wire([(x, cy), (left, cy), (left, y), (attach_in - 1, y)], arrow=True)
            label = self.gap(branch[0])[1]
            if label:
                mid = (left + attach_in) / 2
                self.out.append(
                    f'<text class="cc-win" x="{_n(mid)}" y="{_n(y - 4)}">{text(label)}</text>'
                )
            self.wire([(attach_out, y), (right, y), (right, cy), (xj - RADIUS, cy)])
        rows = self.junction_rows(item)
        flag = self.flag(rows)
        if item.row is None:
            self.out.append(
                f'<g class="cc-junction cc-error"><title>the analysis stopped before this merge'
                f'</title><circle cx="{_n(xj)}" cy="{_n(cy)}" r="{RADIUS}"/>'
                f'<text x="{_n(xj)}" y="{_n(cy + 4)}">?</text></g>'
            )
            return x, xj + RADIUS
        row = self.rows[item.row]
        classes = "cc-junction" + (f" {_FLAG[flag[0]]}" if flag else "")
        title = full_label(self.rows, rows) + f" → {show_shape(row.output)}"
        self.out.append(
            f'<g class="{classes}" data-row="{item.row}" data-layer="{text(row.name)}" '
            f'data-shape="{show_shape(row.output)}"><title>{text(title)}</title>'
            f'<circle cx="{_n(xj)}" cy="{_n(cy)}" r="{RADIUS}"/>'
            f'<text x="{_n(xj)}" y="{_n(cy + 4)}">{SYMBOL.get(row.type, "?")}</text>'
        )
        if flag:
            self.out.append(
                f'<circle class="cc-flag" cx="{_n(xj)}" cy="{_n(cy)}" r="{RADIUS + 3}"/>'
                f'<text class="cc-code" x="{_n(xj)}" y="{_n(cy - RADIUS - 6)}">'
                f"{text(' '.join(flag[1]))}</text>"
            )
        self.out.append("</g>")
        return x, xj + RADIUS


def render(diagram: Diagram, *, labels: str = "shapes", theme: str = "light",
           width: int | None = None, standalone: bool = True) -> str:  # fmt: skip
    """The diagram as an SVG document (``standalone``: with the XML declaration)."""
    analysis = diagram.analysis
    renderer = _Renderer(diagram, labels)
    w, up, down = renderer.sequence(diagram.items)
    title = visible(analysis.spec.name)
    output = show_shape(analysis.output) if analysis.output else "(not analysed)"
    totals = analysis.totals
    sub = (
        f"{show_shape(analysis.input)} → {output} · {totals.params:,} parameters · "
        f"{totals.macs:,} MACs · activations {megabytes(totals.activations * 4)} MB (float32)"
    )
    if diagram.flags or not analysis.ok:
        sub += " · findings outlined"
    full_w = max(w, text_width(title, 15), text_width(sub, 11)) + 2 * MARGIN
    full_h = HEADER + up + down + 2 * MARGIN
    cy = MARGIN + HEADER + up
    renderer.place_sequence(diagram.items, MARGIN, cy)
    shown_w = width if width is not None else math.ceil(full_w)
    shown_h = math.ceil(full_h * shown_w / full_w)
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else "") + (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{shown_w}" height="{shown_h}" '
        f'viewBox="0 0 {_n(full_w)} {_n(full_h)}" role="img" aria-label="{text(title)}">'
        f"<title>{text(title)}</title><style>{style(theme)}</style>"
        '<defs><marker id="cc-arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" '
        'markerHeight="6" orient="auto"><path class="cc-head" d="M0,0L6,3L0,6z"/></marker></defs>'
        f'<rect class="cc-bg" width="100%" height="100%"/>'
        f'<text class="cc-title" x="{MARGIN}" y="{MARGIN + 14}">{text(title)}</text>'
        f'<text class="cc-sub" x="{MARGIN}" y="{MARGIN + 32}">{text(sub)}</text>'
    )
    return head + "".join(renderer.out) + "</svg>\n"


def drawn_rows(diagram: Diagram) -> list[int]:
    """Every row the picture shows (folded repetitions excepted)."""
    return [r for item in diagram.items for r in rows_of(item)]
