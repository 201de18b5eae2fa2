"""What convcalc knows, as text: the bundled specs (`list`) and the rule catalogue (`rules`)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from ..analysis.analyzer import Analysis
from ..records import show_shape
from ..rules.catalogue import Rule
from ..rules.explanations import EXPLANATIONS
from .data import source_line
from .text import grid


def print_specs(out: Console, names: Sequence[str], analyses: Sequence[Analysis]) -> None:
    """One line per bundled spec: input, output, parameters, MACs and where it comes from."""
    body = [
        [
            name,
            show_shape(a.input),
            show_shape(a.output) if a.output else "—",
            f"{a.totals.params:,}",
            f"{a.totals.macs:,}",
            source_line(a),
        ]
        for name, a in zip(names, analyses, strict=True)
    ]
    header = ["name", "input", "output", "params", "MACs", "source"]
    right = [False, False, False, True, True, False]
    out.print(grid(header, body, right), soft_wrap=True, crop=False)


def print_rules(out: Console, rules: Sequence[Rule]) -> None:
    """The catalogue as a table: code, severity, summary."""
    body = [[r.code, str(r.severity), r.summary] for r in rules]
    out.print(grid(["code", "severity", "summary"], body, [False] * 3), soft_wrap=True)
    out.print("\n`convcalc rules CODE` explains one rule, with an example and its fix.")


def print_explanations(out: Console, rules: Sequence[Rule]) -> None:
    """Each rule with its explanation, an example and its fix."""
    for i, r in enumerate(rules):
        if i:
            out.print()
        out.print(f"[bold]{r.code}[/bold] ({r.severity}): {r.summary}", soft_wrap=True)
        out.print()
        out.print(EXPLANATIONS[r.code], markup=False, soft_wrap=True)
