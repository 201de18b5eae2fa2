"""Text that fits a width: words wrapped, tables whose columns give way in a stated order.

Every text report prints lines no wider than its console and without trailing spaces (README,
"Output width"): a terminal's width, else the COLUMNS environment variable, else
:data:`PIPED_WIDTH` for pipes and ``-o`` files. A table never lets the terminal wrap a row
mid-cell: when its natural width is too large, the steps of its plan apply one after the other
until it fits: a header shortens, numbers abbreviate (``1.85G``), a column narrows (its cells
cut with "…" or wrapped inside the column) or drops. Whatever is still too wide after the last
step (a terminal narrower than any table can be) is cut at the width.

A leaf of the report stage: it imports no analysis, so any report (the memory bars too) can
lay out its own table with it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from rich.text import Text

#: The width of text written to a pipe or a file (no terminal, no COLUMNS).
PIPED_WIDTH = 100
#: Spaces between two columns.
GAP = 2
#: Below this many characters a hanging indent is given up: the text starts at the margin.
_MIN_TEXT = 24


#: A space beside an operator between two operands (``(56 − 3 + 1)/2 + 1 = 28``): a line
#: breaks elsewhere when it can, so that a formula reads whole.
_FORMULA = re.compile(r"(?<=[\w)]) ([−+×=<>≤≥/]) (?=[\w(])")
#: A number and its unit (``57.79 MB``, ``4.089 GMACs``) stay on one line as well.
_UNIT = re.compile(
    r"(?<=[\d²]) (?=(?:[kMGT]?B|[kMG]?MACs|MiB|GiB|ms|s|bytes|info|errors?|warnings?)\b)"
    r"|(?<=info) (?=\((?:\d[\d,]* )?hidden\))"
)
#: A code span (`` `convcalc memory` ``) is a formula of its own.
_CODE = re.compile(r"`[^`\n]+`")
_GLUE = "\x00"


def wrap(text: str, width: int, indent: str = "", first: str = "") -> list[str]:
    """``first + text`` wrapped at word boundaries to ``width``, continuation lines starting
    with ``indent``; a formula is kept on one line when it fits one, a word longer than a line
    is broken. No line ends in a space."""
    if len(first) + len(text) <= width:
        return [(first + text).rstrip()]
    if width - len(indent) < _MIN_TEXT:
        indent = ""
    room = width - len(indent)
    glued = _CODE.sub(lambda m: _glue(m.group(0), room), text)
    glued = _FORMULA.sub(lambda m: f"{_GLUE}{m.group(1)}{_GLUE}", glued)
    glued = _UNIT.sub(_GLUE, glued)
    glued = glued.replace(" · ", f"{_GLUE}· ")  # a line ends with the separator, not begins
    # a glued run longer than a line breaks at its own spaces after all
    glued = " ".join(_glue(word.replace(_GLUE, " "), room) for word in glued.split(" "))
    lines = textwrap.wrap(
        glued,
        width=max(width, len(first) + 1, len(indent) + 1),
        initial_indent=first,
        subsequent_indent=indent,
        break_on_hyphens=False,
        drop_whitespace=True,
    )
    return [line.replace(_GLUE, " ").rstrip() for line in lines] or [first.rstrip()]


def _glue(text: str, room: int) -> str:
    """``text`` as one unbreakable word when it fits in ``room``."""
    return text.replace(" ", _GLUE) if len(text) <= room else text


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, "…" standing for what is cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…" if width > 0 else ""


# -- findings --------------------------------------------------------------------------------

_SOURCE = re.compile(r"^( *\d+ \| )(.*)$")
_MARKER = re.compile(r"^( +\| )( *\^~*)$")
_LABEL = re.compile(r"^( *(?:[a-z]+: )?)")


def fit_finding(rendered: str, width: int) -> list[str]:
    """A rendered finding (errors.Finding.render) in lines of at most ``width``: the header
    and the note and help wrapped at words under their own indent, a long source line and its
    caret line cut to the same window around the caret."""
    lines = rendered.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        source = _SOURCE.match(line.expandtabs())
        marker = _MARKER.match(lines[i + 1].expandtabs()) if i + 1 < len(lines) else None
        if source and marker and len(source.group(1)) == len(marker.group(1)):
            out += _window(source.groups(), marker.groups(), width)
            i += 2
            continue
        if i == 0:
            out += wrap(line, width, indent="    ")
        elif source:
            out.append(cut(source.group(0), width))
        else:
            label = _LABEL.match(line)
            head = label.group(1) if label else ""
            out += wrap(line[len(head) :], width, indent=" " * len(head), first=head)
        i += 1
    return out


def _window(source: Sequence[str], caret_line: Sequence[str], width: int) -> list[str]:
    """A source line and its caret line, both cut to the columns around the caret."""
    gutter, text = source
    bar, marker = caret_line
    room = width - len(gutter)
    if len(text) <= room or room < 8:
        return [(gutter + text).rstrip(), (bar + marker).rstrip()]
    start = marker.index("^")
    span = min(len(marker) - start, room - 2)
    begin = max(0, start - max(1, (room - span) // 2))
    begin = max(0, min(begin, len(text) - room))
    shown = text[begin : begin + room]
    if begin:
        shown = "…" + shown[1:]
    if begin + room < len(text):
        shown = shown[:-1] + "…"
    caret = marker[begin : begin + room]
    if caret.endswith("~") and begin + room < len(marker):
        caret = caret[:-1] + "…"
    return [(gutter + shown).rstrip(), (bar + caret).rstrip()]


def title(name: str, path: str, width: int) -> list[str]:
    """``name  path`` on one line, or on two when that is wider than ``width``."""
    line = f"{name}  {path}".rstrip()
    if len(line) <= width:
        return [line]
    return [cut(name, width), cut(path, width)] if path else [cut(name, width)]


def reflow(text: str, width: int) -> list[str]:
    """Prose in paragraphs (blank-line separated) rewrapped to ``width``; a block of
    ``Label:   value`` lines (an example and its fix) keeps its lines, each wrapped under its
    value's column."""
    out: list[str] = []
    for block in text.split("\n\n"):
        if out:
            out.append("")
        lines = block.split("\n")
        labelled = re.match(r"^\w+:\s{2,}", lines[0])
        if labelled is None:
            out += wrap(" ".join(line.strip() for line in lines), width)
            continue
        indent = " " * labelled.end()
        for line in lines:
            head = re.match(r"^(\w+:\s+|\s+)", line)
            first = head.group(1) if head else ""
            out += wrap(line[len(first) :], width, indent=indent, first=first)
    return out


# -- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column and how it gives way: ``short`` is its abbreviated header, ``compact``
    abbreviates a cell, ``narrowest`` is the width it may narrow to (its cells cut with "…",
    or wrapped inside the column when ``wrap``)."""

    header: str
    right: bool = False
    short: str | None = None
    compact: Callable[[str], str] | None = None
    narrowest: int | None = None
    wrap: bool = False


Action = Literal["short", "compact", "narrow", "drop"]
#: One step of a plan: an action on a column (by index); a "narrow" may name its own
#: narrowest width, so that a column can give some width early and more later.
Step = tuple[Action, int] | tuple[Action, int, int]


@dataclass
class _State:
    columns: Sequence[Column]
    headers: list[str]
    cells: list[list[str]]  # per column: the body cells, then the totals cell
    limit: list[int | None]
    kept: list[bool] = field(default_factory=list)

    def width_of(self, c: int) -> int:
        natural = max(len(self.headers[c]), *(len(s) for s in self.cells[c]))
        limit = self.limit[c]
        return natural if limit is None else min(natural, max(limit, len(self.headers[c])))

    def total(self) -> int:
        shown = [self.width_of(c) for c in range(len(self.headers)) if self.kept[c]]
        return sum(shown) + GAP * (len(shown) - 1)

    def apply(self, step: Step, width: int) -> None:
        action, c = step[0], step[1]
        column = self.columns[c]
        if action == "short" and column.short is not None:
            self.headers[c] = column.short
        elif action == "compact" and column.compact is not None:
            self.cells[c] = [column.compact(s) for s in self.cells[c]]
        elif action == "narrow" and column.narrowest is not None:
            narrowest = step[2] if len(step) > 2 else column.narrowest
            excess = self.total() - width
            self.limit[c] = max(narrowest, self.width_of(c) - max(0, excess))
        elif action == "drop":
            self.kept[c] = False


class Laid(NamedTuple):
    """A table's text in its parts: the header, the rule, the body and the totals (or None)."""

    header: str
    rule: str
    body: str
    totals: str | None

    def head(self) -> Text:
        """The header in bold and the rule under it dim."""
        head = Text(self.header, style="bold")
        head.append("\n" + self.rule, style="dim")
        return head

    def tail(self) -> Text | None:
        """The rule above the totals dim and the totals in bold; None without totals."""
        if self.totals is None:
            return None
        tail = Text(self.rule + "\n", style="dim")
        tail.append(self.totals, style="bold")
        return tail

    def text(self) -> Text:
        """The whole table, styled: :meth:`head`, the body, :meth:`tail`."""
        result = self.head()
        result.append("\n", style="dim")
        result.append(self.body)
        tail = self.tail()
        if tail is not None:
            result.append("\n", style="dim")
            result.append_text(tail)
        return result

    def plain(self) -> str:
        """The table without styles, as rich would print it to a pipe: for a 20,000-row table
        without rich's pass over every character (``Text`` strips control codes, 0.1 s)."""
        rule = "\n" + self.rule + "\n"
        tail = "" if self.totals is None else rule + self.totals
        return self.header + rule + self.body + tail


def table(
    columns: Sequence[Column],
    body: Sequence[Sequence[str]],
    width: int,
    plan: Sequence[Step] = (),
    totals: Sequence[str] | None = None,
) -> Text:
    """The table at ``width``: the header in bold, a rule, the body, a rule and the totals.

    While it is wider than ``width``, the next step of ``plan`` (an action on a column
    index) applies; the lines still too wide after the last one are cut."""
    return lay_out(columns, body, width, plan, totals).text()


def lay_out(
    columns: Sequence[Column],
    body: Sequence[Sequence[str]],
    width: int,
    plan: Sequence[Step] = (),
    totals: Sequence[str] | None = None,
) -> Laid:
    """:func:`table`'s lines, unstyled, in their parts."""
    rows = [*body, *([totals] if totals else [])]
    state = _State(
        columns,
        [c.header for c in columns],
        [[row[c] for row in rows] for c in range(len(columns))],
        [None] * len(columns),
        [True] * len(columns),
    )
    for step in plan:
        if state.total() <= width:
            break
        state.apply(step, width)
    shown = [c for c in range(len(columns)) if state.kept[c]]
    widths = [state.width_of(c) for c in shown]
    rule = "─" * min(width, sum(widths) + GAP * (len(widths) - 1))

    layout = [(c, w, columns[c].right, columns[c].wrap) for c, w in zip(shown, widths, strict=True)]
    gap = " " * GAP

    # a row whose every cell fits its column (the common case: a 20,000-row table is made of
    # nothing else) is one format call
    one_line = gap.join(f"{{{c}:{'>' if r else '<'}{w}}}" for c, w, r, _ in layout).format
    fits = [(c, w) for c, w, _, _ in layout]

    def lines(cells: Sequence[str]) -> list[str]:
        if all(len(cells[c]) <= w for c, w in fits):
            line = one_line(*cells).rstrip()
            return [line if len(line) <= width else cut(line, width)]
        if not any(wraps and len(cells[c]) > w for c, w, _, wraps in layout):
            # one line, its cells too wide for a narrowed column cut with "…"
            line = gap.join(
                (cells[c] if len(cells[c]) <= w else cut(cells[c], w)).rjust(w)
                if right
                else (cells[c] if len(cells[c]) <= w else cut(cells[c], w)).ljust(w)
                for c, w, right, _ in layout
            )
            line = line.rstrip()
            return [line if len(line) <= width else cut(line, width)]
        parts: list[list[str]] = []
        for c, w in zip(shown, widths, strict=True):
            text = cells[c]
            wrapped = columns[c].wrap and len(text) > w
            parts.append(wrap(text, w) if wrapped else [cut(text, w)])
        out = []
        for k in range(max(len(p) for p in parts)):
            row = []
            for p, c, w in zip(parts, shown, widths, strict=True):
                cell = p[k] if k < len(p) else ""
                row.append(cell.rjust(w) if columns[c].right else cell.ljust(w))
            out.append(cut((" " * GAP).join(row).rstrip(), width))
        return out

    body_cells = [[state.cells[c][r] for c in range(len(columns))] for r in range(len(body))]
    last = [state.cells[c][-1] for c in range(len(columns))] if totals else None
    return Laid(
        "\n".join(lines(state.headers)),
        rule,
        "\n".join(line for cells in body_cells for line in lines(cells)),
        "\n".join(lines(last)) if last is not None else None,
    )


_SUFFIXES = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def compact_count(cell: str) -> str:
    """A count cell (``1,849,688,064``) in three significant digits with an SI suffix
    (``1.85G``); below 10,000, and cells that are no count (``—``), as they are."""
    digits = cell.replace(",", "")
    if not digits.isdigit() or int(digits) < 10_000:
        return cell
    n = int(digits)
    scale, suffix = next((s, x) for s, x in _SUFFIXES if n >= s)
    value = n / scale
    decimals = 2 if value < 10 else 1 if value < 100 else 0
    text = f"{value:.{decimals}f}"
    if float(text) >= 1000 and suffix != "T":  # 999.7k rounds up to the next suffix
        return compact_count(str(scale * 1000))
    return text + suffix
