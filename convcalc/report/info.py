"""What convcalc knows, as text: the bundled specs (`list`) and the rule catalogue (`rules`)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from ..analysis.analyzer import Analysis
from ..records import show_shape
from ..rules.catalogue import Rule
from ..rules.explanations import EXPLANATIONS
from .data import source_line
from .layout import Column, Step, compact_count, reflow, table

#: `list` at a narrow width: the source wraps in 30 columns, counts abbreviate, the input
#: drops, the source narrows to 16, the name narrows.
SPEC_COLUMNS = (
    Column("name", narrowest=12),
    Column("input"),
    Column("output"),
    Column("params", right=True, compact=compact_count),
    Column("MACs", right=True, compact=compact_count),
    Column("source", narrowest=16, wrap=True),
)
SPEC_PLAN: tuple[Step, ...] = (
    ("narrow", 5, 30), ("compact", 4), ("compact", 3), ("drop", 1), ("narrow", 5), ("narrow", 0),
)  # fmt: skip
#: `rules`: the summary wraps inside its column.
RULE_COLUMNS = (Column("code"), Column("severity"), Column("summary", narrowest=20, wrap=True))


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
    out.print(table(SPEC_COLUMNS, body, out.width, SPEC_PLAN), soft_wrap=True, crop=False)


def print_rules(out: Console, rules: Sequence[Rule]) -> None:
    """The catalogue as a table: code, severity, summary."""
    body = [[r.code, str(r.severity), r.summary] for r in rules]
    out.print(table(RULE_COLUMNS, body, out.width, [("narrow", 2)]), soft_wrap=True, crop=False)
    out.print()
    hint = "`convcalc rules CODE` explains one rule, with an example and its fix."
    out.print("\n".join(reflow(hint, out.width)), markup=False, soft_wrap=True)


def print_explanations(out: Console, rules: Sequence[Rule]) -> None:
    """Each rule with its explanation, an example and its fix."""
    for i, r in enumerate(rules):
        if i:
            out.print()
        head = reflow(f"{r.code} ({r.severity}): {r.summary}", out.width)
        out.print(Text("\n".join(head), style="bold"), soft_wrap=True, crop=False)
        out.print()
        out.print("\n".join(reflow(EXPLANATIONS[r.code], out.width)), markup=False,
                  soft_wrap=True, crop=False)  # fmt: skip
