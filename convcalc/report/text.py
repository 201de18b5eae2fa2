"""The terminal report: a rich table per spec, the findings under it, conventions in a footer.

Reports never compute: every number comes from an :class:`Analysis`. The only arithmetic
here is presentation (bytes to MB, rounding so that displayed rows add up to the total).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..analysis.memory import Memory
from ..errors import Finding, Severity
from ..layers.merges import MERGES
from ..layers.vocabulary import LAYERS
from ..records import Row, show_shape
from ..units import BYTES, MB
from .cap import Omitted, capped
from .escape import visible

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def describe(row: Row) -> str:
    """``CONV 3×3 s1 p1``, ``ADD ×2``: as the row's layer type (or merge) describes itself."""
    merge = MERGES.get(row.type)
    if merge is not None:
        return merge.describe(len(row.inputs))
    return LAYERS[row.type].describe(row.args)


def rounded_mb(values: Sequence[int], scale: int) -> tuple[list[str], str]:
    """MB with two decimals per row, rounded so that the rows add up to the shown total."""
    hundredths = [v * scale * 100 / MB for v in values]
    total = round(sum(hundredths))
    floors = [int(h) for h in hundredths]
    short = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: hundredths[i] - floors[i], reverse=True)
    for i in order[:short]:
        floors[i] += 1
    cells = ["—" if v == 0 else f"{h / 100:.2f}" for v, h in zip(values, floors, strict=True)]
    return cells, f"{total / 100:.2f}"


def finding_text(finding: Finding) -> Text:
    text = Text()
    lines = visible(finding.render(), keep="\n\t").split("\n")
    text.append(lines[0], style=STYLE[finding.severity])
    for line in lines[1:]:
        text.append("\n")
        is_marker = line.lstrip().startswith("|") and ("^" in line)
        text.append(line, style=STYLE[finding.severity] if is_marker else None)
    return text


def summary(findings: Sequence[Finding]) -> str:
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
            parts.append(f"{n} {word}{'s' if n > 1 and word != 'info' else ''}")
    return ", ".join(parts)


COLUMNS = ("layer", "type", "output W×H×D", "params", "MACs", "act. MB", "RF")
RIGHT = (False, False, False, True, True, True, True)


def table_cells(analysis: Analysis) -> tuple[list[list[str]], list[str]]:
    """The body cells and the totals line of the layer table."""
    rows = analysis.rows
    mb_cells, mb_total = rounded_mb([r.activations for r in rows], BYTES[dtype_of(analysis)])
    body = []
    for row, mb in zip(rows, mb_cells, strict=True):
        rf = row.receptive_field
        body.append([
            row.name,
            describe(row),
            show_shape(row.output),
            f"{row.params:,}" if row.params else "—",
            f"{row.macs:,}" if row.macs else "—",
            mb,
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
) -> Text:
    """Columns aligned by hand: a rich Table measures every cell and costs 40 ms here."""
    lines = [header, *body, *([totals] if totals else [])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    out = Text()
    out.append(line(header), style="bold")
    out.append("\n" + rule + "\n", style="dim")
    out.append("\n".join(line(cells) for cells in body))
    if totals:
        out.append("\n" + rule + "\n", style="dim")
        out.append(line(totals), style="bold")
    return out


def summary_line(memory: Memory) -> str:
    """One line of memory for the `check` report."""
    return (
        f"memory at {memory.dtype}, batch {memory.batch}, {memory.optimizer}: training "
        f"{memory.training_total / MB:,.2f} MB · inference peak "
        f"{memory.inference_peak / MB:,.2f} MB (`convcalc memory` breaks it down)"
    )


def footer(dtype: str) -> str:
    return (
        "MACs: multiply-accumulates, biases not counted (FLOPs ≈ 2 × MACs). "
        f"act. MB: each layer's output at {dtype} ({BYTES[dtype]} bytes a value) for one "
        "image, MB = 1024² bytes; in-place layers (activations with inplace=true, DROPOUT, "
        "FLATTEN, ID, SLICE) add none. RF: receptive field in input pixels."
    )


def dtype_of(analysis: Analysis) -> str:
    return analysis.memory.dtype if analysis.memory else analysis.spec.dtype


def print_analysis(console: Console, analysis: Analysis) -> None:
    spec = analysis.spec
    dtype = dtype_of(analysis)
    name = visible(spec.name)
    console.print(Text.assemble((name, "bold"), "  ", (visible(spec.path), "dim")))
    w, h, d = analysis.input
    console.print(Text(f"input {w}×{h}×{d} · {dtype} · rounding {analysis.rounding}", style="dim"))
    if analysis.rows:
        body, totals = table_cells(analysis)
        console.print(grid(COLUMNS, body, RIGHT, totals), soft_wrap=True, crop=False)
    print_findings(console, analysis.findings)
    t = analysis.totals
    gmacs = t.macs / 1e9
    mb = t.activations * BYTES[dtype] / MB
    status = "" if analysis.output else " · analysis stopped at the first error"
    console.print(
        Text(
            f"{name}: {t.params:,} parameters · {gmacs:.3f} GMACs · {mb:.2f} MB activations "
            f"per image · {summary(analysis.findings)}{status}",
            style="bold red" if not analysis.ok else "bold",
        )
    )
    if analysis.memory is not None:
        console.print(Text(summary_line(analysis.memory)))
    console.print(Text(footer(dtype), style="dim"), soft_wrap=False)


def print_findings(console: Console, findings: Sequence[Finding]) -> None:
    """Each finding after an empty line, at most PER_CODE of a code (report/cap.py)."""
    for item in capped(findings):
        if isinstance(item, Omitted):
            console.print(Text(item.line(), style=STYLE[item.severity]), soft_wrap=True)
            continue
        console.print()
        console.print(finding_text(item), soft_wrap=True, crop=False)
    if findings:
        console.print()


def print_failed(console: Console, file: str, findings: Sequence[Finding]) -> None:
    file = visible(file)
    console.print(Text.assemble((file, "bold"), ("  could not be loaded", "bold red")))
    print_findings(console, findings)
    console.print(Text(f"{file}: {summary(findings)}", style="bold red"))
