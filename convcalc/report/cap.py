"""The cap on the findings the text-like reports print per code and spec.

A spec can hold thousands of findings of one kind (a repeated layer whose stride does not fit);
printing each one costs about a millisecond and buries the others. The text, markdown and
GitHub reports print the first :data:`PER_CODE` findings of each code of a spec, and after the
last one a line ``… and N more like this``. JSON, SARIF and JUnit keep every finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from ..errors import Finding, Severity

#: Findings printed per code and spec in the text, markdown and GitHub reports.
PER_CODE = 20


class Omitted(NamedTuple):
    """The findings of one code left out after the first PER_CODE of a spec."""

    code: str
    severity: Severity
    more: int

    def line(self) -> str:
        return f"… and {self.more:,} more like this"


def capped(findings: Sequence[Finding], per_code: int = PER_CODE) -> Iterator[Finding | Omitted]:
    """The findings in order, each code's after the first ``per_code`` replaced by one Omitted
    right after its last shown finding."""
    totals = Counter(f.code for f in findings)
    seen: Counter[str] = Counter()
    for f in findings:
        seen[f.code] += 1
        n = seen[f.code]
        if n <= per_code:
            yield f
            if n == per_code and totals[f.code] > per_code:
                yield Omitted(f.code, f.severity, totals[f.code] - per_code)
