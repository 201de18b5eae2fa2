"""The `run` report: each layer's shape from the NumPy pass beside the analysis's, with timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..records import show_shape
from ..units import mb
from .escape import visible
from .layout import Column, Step, table, title, wrap

#: The run table at a narrow width: the layer narrows to 10, GFLOP/s drops, the type narrows,
#: the expected shape drops (the match column still says whether it was), the layer narrows.
COLUMNS = (
    Column("layer", narrowest=6),
    Column("type", narrowest=5),
    Column("expected"),
    Column("actual"),
    Column("match"),
    Column("ms", right=True),
    Column("GFLOP/s", right=True),
)
PLAN: tuple[Step, ...] = (("narrow", 0, 10), ("drop", 6), ("narrow", 1), ("drop", 2), ("narrow", 0))

if TYPE_CHECKING:
    from ..engine.forward import ForwardResult


def print_run(
    out: Console, analysis: Analysis, result: ForwardResult, seed: int, estimated: int
) -> None:
    """The table of a forward pass, a status line, and the measured peak beside the
    ``estimated`` inference peak."""
    spec_ = analysis.spec
    name = visible(spec_.name)  # as text, never as markup: a name may hold `[/dim]`
    width = out.width
    out.print(Text("\n".join(title(name, visible(spec_.path), width)), style="bold"),
              soft_wrap=True, crop=False)  # fmt: skip
    setting = (f"input {show_shape(analysis.input)} · batch {result.batch:,} · seed {seed} · "
               f"{result.dtype}")  # fmt: skip
    out.print(Text("\n".join(wrap(setting, width)), style="dim"), soft_wrap=True, crop=False)
    body = [
        [
            r.name,
            r.type,
            show_shape(r.expected),
            show_shape(r.actual) if r.actual else "?",
            "yes" if r.match else "NO",
            f"{r.seconds * 1000:,.2f}" if not r.fused_into else f"(in {r.fused_into})",
            f"{r.gflops:,.1f}" if r.gflops else "—",
        ]
        for r in result.layers
    ]
    out.print(table(COLUMNS, body, width, PLAN), soft_wrap=True, crop=False)
    wrong = [r for r in result.layers if not r.match]
    status = "every shape matches" if not wrong else (
        f"{len(wrong)} shape{'s' if len(wrong) > 1 else ''} differ, first at "
        f"{wrong[0].name}: expected {show_shape(wrong[0].expected)}, got "
        f"{show_shape(wrong[0].actual) if wrong[0].actual else '?'}")  # fmt: skip
    line = (f"{name}: {status} · forward {result.seconds:,.3f} s (the layers: drawing the "
            f"weights, folding batch norms, Winograd and grouped weight transforms, GELU's "
            f"tables excluded; the whole call {result.call_seconds:,.3f} s) · measured peak "
            f"{mb(result.measured_peak_bytes)} "
            f"(tracemalloc) · estimated inference peak {mb(estimated)}")  # fmt: skip
    out.print(Text("\n".join(wrap(line, width, indent="    ")), style="bold"), soft_wrap=True,
              crop=False)  # fmt: skip
    if result.note:
        out.print(Text("\n".join(wrap(result.note, width)), style="dim"), soft_wrap=True)
