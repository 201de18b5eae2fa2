"""The `run` report: each layer's shape from the NumPy pass beside the analysis's, with timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..records import show_shape
from ..units import mb
from .escape import visible
from .text import grid

if TYPE_CHECKING:
    from ..engine.forward import ForwardResult


def print_run(
    out: Console, analysis: Analysis, result: ForwardResult, seed: int, estimated: int
) -> None:
    """The table of a forward pass, a status line, and the measured peak beside the
    ``estimated`` inference peak."""
    spec_ = analysis.spec
    name = visible(spec_.name)  # as text, never as markup: a name may hold `[/dim]`
    out.print(Text.assemble((name, "bold"), "  ", (visible(spec_.path), "dim")))
    out.print(f"[dim]input {show_shape(analysis.input)} · batch {result.batch} · seed {seed} · "
              f"{result.dtype}[/dim]")  # fmt: skip
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
    header = ["layer", "type", "expected", "actual", "match", "ms", "GFLOP/s"]
    right = [False, False, False, False, False, True, True]
    out.print(grid(header, body, right), soft_wrap=True, crop=False)
    wrong = [r for r in result.layers if not r.match]
    status = "every shape matches" if not wrong else (
        f"{len(wrong)} shape{'s' if len(wrong) > 1 else ''} differ, first at "
        f"{wrong[0].name}: expected {show_shape(wrong[0].expected)}, got "
        f"{show_shape(wrong[0].actual) if wrong[0].actual else '?'}")  # fmt: skip
    timing = (
        f" · forward {result.seconds:.3f} s (the layers: drawing the weights, folding batch "
        f"norms and Winograd transforms excluded; the whole call {result.call_seconds:.3f} s)"
    )
    out.print(Text.assemble((f"{name}: {status}", "bold"), timing, " · measured peak "
              f"{mb(result.measured_peak_bytes)} (tracemalloc) · "
              f"estimated inference peak {mb(estimated)}"), soft_wrap=True)  # fmt: skip
    if result.note:
        out.print(f"[dim]{result.note}[/dim]")
