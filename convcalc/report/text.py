"""The terminal report: a table per spec, the findings under it, conventions in a legend.

Reports never compute: every number comes from an :class:`Analysis`. The only arithmetic
here is presentation (bytes to MB, rounded by ``units``). Everything fits the console's width
(report/layout.py): the table gives way in the order of :data:`PLAN`, findings and the legend
wrap at words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..analysis.memory import Memory
from ..errors import Finding, Severity
from ..layers.merges import MERGES
from ..layers.vocabulary import LAYERS
from ..records import Row, show_shape
from ..units import BYTES, macs, mb, megabytes
from .cap import Omitted, capped
from .escape import visible
from .layout import (
    Column,
    Laid,
    Step,
    compact_count,
    fit_finding,
    lay_out,
    table,
    title,
    wrap,
)

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def describe(row: Row) -> str:
    """``CONV 3×3 s1 p1``, ``ADD ×2``: as the row's layer type (or merge) describes itself."""
    merge = MERGES.get(row.type)
    if merge is not None:
        return merge.describe(len(row.inputs))
    return LAYERS[row.type].describe(row.args)


def mb_cells(values: Sequence[int], scale: int) -> tuple[list[str], str]:
    """Each row's MB and the total's, every one rounded on its own by :func:`units.megabytes`
    (a column of rounded values may differ from its rounded total by rounding)."""
    cells = ["—" if v == 0 else megabytes(v * scale) for v in values]
    return cells, megabytes(sum(values) * scale)


def finding_text(finding: Finding, width: int) -> Text:
    """A finding in lines of at most ``width``, its header and caret in its severity's colour."""
    rendered = visible(finding.render(), keep="\n\t")
    header = len(fit_finding(rendered.split("\n", 1)[0], width))
    text = Text()
    for i, line in enumerate(fit_finding(rendered, width)):
        if i:
            text.append("\n")
        is_marker = line.lstrip().startswith("|") and ("^" in line)
        text.append(line, style=STYLE[finding.severity] if i < header or is_marker else None)
    return text


def summary(findings: Sequence[Finding], hidden: int = 0) -> str:
    """``1 error, 2 warnings, 16 info``; ``hidden`` info findings are said to be hidden."""
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    if not findings:
        return "no findings"
    parts = []
    for sev, word in (
        (Severity.ERROR, "error"),
        (Severity.WARNING, "warning"),
        (Severity.INFO, "info"),
    ):
        n = counts[sev]
        if n:
            parts.append(f"{n:,} {word}{'s' if n > 1 and word != 'info' else ''}")
    if hidden:
        parts[-1] += " (hidden)" if hidden == counts[Severity.INFO] else f" ({hidden:,} hidden)"
    return ", ".join(parts)


@dataclass(frozen=True)
class Display:
    """What the text report prints of a spec, apart from what --fail-on decides.

    ``show_info``: info findings are printed (else counted as hidden in the summary line).
    ``quiet``: only the findings and one summary line. ``legend``: the legend under the spec
    (a run of many specs prints it once, at the end)."""

    show_info: bool = True
    quiet: bool = False
    legend: bool = True

    def shown(self, findings: Sequence[Finding]) -> list[Finding]:
        return [f for f in findings if self.show_info or f.severity is not Severity.INFO]


#: The layer table's columns and how they give way, in this order, to a narrow console
#: (README, "Output width"): shorter headers, counts abbreviated (1.85G), RF dropped, act. MB
#: dropped, the layer column narrowed, params dropped, the type and output columns narrowed.
COLUMNS = (
    Column("layer", narrowest=8),
    Column("type", narrowest=8),
    Column("output W×H×D", short="output", narrowest=7),
    Column("params", right=True, compact=compact_count),
    Column("MACs", right=True, compact=compact_count),
    Column("act. MB", right=True, short="MB"),
    Column("RF", right=True),
)
PLAN: tuple[Step, ...] = (
    ("short", 2), ("short", 5), ("compact", 4), ("compact", 3), ("drop", 6), ("drop", 5),
    ("narrow", 0), ("drop", 3), ("narrow", 1), ("narrow", 2),
)  # fmt: skip


def table_cells(analysis: Analysis) -> tuple[list[list[str]], list[str]]:
    """The body cells and the totals line of the layer table."""
    rows = analysis.rows
    mb_column, mb_total = mb_cells([r.activations for r in rows], BYTES[dtype_of(analysis)])
    body = []
    described: dict[tuple[str, int, int], str] = {}  # rows alive: their args' ids are theirs
    for row, mb_cell in zip(rows, mb_column, strict=True):
        rf = row.receptive_field
        key = (row.type, id(row.args), len(row.inputs))
        kind = described.get(key)
        if kind is None:
            kind = described[key] = describe(row)
        body.append([
            row.name,
            kind,
            show_shape(row.output),
            f"{row.params:,}" if row.params else "—",
            f"{row.macs:,}" if row.macs else "—",
            mb_cell,
            str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}×{rf[1]}",
        ])  # fmt: skip
    t = analysis.totals
    output = show_shape(analysis.output) if analysis.output else "—"
    totals = ["total", "", output, f"{t.params:,}", f"{t.macs:,}", mb_total, ""]
    return body, totals


def grid(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    right: Sequence[bool],
    totals: Sequence[str] | None = None,
    width: int = 1 << 16,
) -> Text:
    """A table whose columns never give way (see layout.table for one that does); lines
    wider than ``width`` are cut."""
    columns = [Column(h, right=r) for h, r in zip(header, right, strict=True)]
    return table(columns, body, width, totals=totals)


def summary_line(memory: Memory) -> str:
    """One line of memory for the `check` report."""
    return (
        f"memory at {memory.dtype}, batch {memory.batch:,}, {memory.optimizer}: training "
        f"{mb(memory.training_total)} · inference peak {mb(memory.inference_peak)} "
        "(`convcalc memory` breaks it down)"
    )


#: The legend of the layer table, under each spec, or once after a run of many.
LEGEND = (
    "MACs: multiply-accumulates, biases not counted (FLOPs ≈ 2 × MACs). act. MB: what "
    "training keeps of each layer for one image (its output, or what autograd saves in its "
    "place: README, Memory) at the dtype under the spec's title, MB = 1024² bytes; in-place "
    "layers (activations with inplace=true, DROPOUT, FLATTEN, ID, SLICE) add none. "
    "RF: receptive field in input pixels. A narrow terminal abbreviates counts (1.85G = "
    "1.85 × 10⁹) and drops columns: RF first, then act. MB, then params."
)


def dtype_of(analysis: Analysis) -> str:
    return analysis.memory.dtype if analysis.memory else analysis.spec.dtype


def print_wrapped(console: Console, text: str, style: str | None = None, indent: str = "") -> None:
    """``text`` wrapped at words to the console's width."""
    lines = wrap(text, console.width, indent=indent)
    console.print(Text("\n".join(lines), style=style or ""), soft_wrap=True, crop=False)


def totals_line(analysis: Analysis, hidden: int = 0) -> str:
    """``name: 138,357,544 parameters · 15.470 GMACs · ... · 2 warnings``; a spec whose
    analysis stopped at an error gets no counts (they would be of the rows before it)."""
    name = visible(analysis.spec.name)
    found = summary(analysis.findings, hidden)
    if not analysis.output:
        return f"{name}: {found} · analysis stopped at the first error"
    t = analysis.totals
    activations = t.activations * BYTES[dtype_of(analysis)]
    return (
        f"{name}: {t.params:,} parameters · {macs(t.macs)} · {mb(activations)} activations "
        f"per image · {found}"
    )


def print_analysis(console: Console, analysis: Analysis, display: Display = Display()) -> None:
    """The report of one spec: title, table, findings, the totals line, memory and legend."""
    spec = analysis.spec
    dtype = dtype_of(analysis)
    shown = display.shown(analysis.findings)
    hidden = len(analysis.findings) - len(shown)
    style = "bold red" if not analysis.ok else "bold"
    if display.quiet:
        print_findings(console, shown, gap_after=False)
        print_wrapped(console, totals_line(analysis, hidden), style, indent="    ")
        return
    head = title(visible(spec.name), visible(spec.path), console.width)
    console.print(Text("\n".join(head), style="bold"), soft_wrap=True, crop=False)
    w, h, d = analysis.input
    print_wrapped(console, f"input {w}×{h}×{d} · {dtype} · rounding {analysis.rounding}", "dim")
    if analysis.rows:
        body, totals = table_cells(analysis)
        # the sums of the rows before an error are no totals of the network: none shown
        shown_totals = totals if analysis.output else None
        print_table(console, lay_out(COLUMNS, body, console.width, PLAN, shown_totals))
    print_findings(console, shown)
    print_wrapped(console, totals_line(analysis, hidden), style, indent="    ")
    if analysis.memory is not None:
        print_wrapped(console, summary_line(analysis.memory), indent="    ")
    if display.legend:
        print_wrapped(console, LEGEND, "dim")


def print_table(console: Console, layers: Laid) -> None:
    """A laid-out table. Its body has no styles: it is written as it is, without rich's pass
    over every character (a 20,000-row table: 0.6 s of a 2 s budget), between a header and
    totals that rich styles on a terminal (all of it plain to a pipe, a file, NO_COLOR)."""
    if console.record or console.is_jupyter:  # rich keeps what it prints: it prints all
        console.print(layers.text(), soft_wrap=True, crop=False)
        return
    if console.color_system is None:
        console.file.write(layers.plain() + "\n")
        return
    console.print(layers.head(), soft_wrap=True, crop=False)
    console.file.write(layers.body + "\n")
    tail = layers.tail()
    if tail is not None:
        console.print(tail, soft_wrap=True, crop=False)


def print_findings(console: Console, findings: Sequence[Finding], gap_after: bool = True) -> None:
    """Each finding after an empty line (with ``gap_after``, also one after the last), at most
    PER_CODE of a code (report/cap.py); without ``gap_after`` (-q), each finding is followed
    by an empty line instead of preceded by one."""
    for item in capped(findings):
        if isinstance(item, Omitted):
            print_wrapped(console, item.line(), STYLE[item.severity])
            continue
        if gap_after:
            console.print()
        console.print(finding_text(item, console.width), soft_wrap=True, crop=False)
        if not gap_after:
            console.print()
    if findings and gap_after:
        console.print()


def print_failed(console: Console, file: str, findings: Sequence[Finding],
                 display: Display = Display()) -> None:  # fmt: skip
    """A spec that could not be loaded: its findings and a line without counts."""
    file = visible(file)
    shown = display.shown(findings)
    if not display.quiet:
        head = title(file, "could not be loaded", console.width)
        console.print(Text("\n".join(head), style="bold red"), soft_wrap=True, crop=False)
    print_findings(console, shown, gap_after=not display.quiet)
    hidden = len(findings) - len(shown)
    print_wrapped(console, f"{file}: {summary(findings, hidden)}", "bold red", indent="    ")
