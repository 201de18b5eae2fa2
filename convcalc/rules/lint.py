"""Which rules run and how severe they are: `lint:` in a spec, --select/--ignore/--severity.

Like ruff: `select` chooses the rules (all by default), `ignore` removes some, `severity`
re-grades. A code may be a prefix: `CC5` is every design rule. The findings of a spec that
cannot be read (CC1xx errors) and the error that stopped an analysis cannot be ignored or
re-graded: without them the result would look fine while nothing was checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from ..errors import Finding, Severity
from .catalogue import RULES


class LintConfig(NamedTuple):
    select: frozenset[str] | None = None  # None: every rule
    ignore: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = {}

    def merged(self, other: LintConfig) -> LintConfig:
        """``other`` (the command line) over ``self`` (the spec)."""
        return LintConfig(
            other.select if other.select is not None else self.select,
            self.ignore | other.ignore,
            {**self.severity, **other.severity},
        )


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """The codes (or prefixes) that match no rule."""
    return [c for c in codes if not any(code.startswith(c) for code in RULES)]


def _match(code: str, patterns: Iterable[str]) -> str | None:
    """The longest pattern that is a prefix of the code."""
    return max((p for p in patterns if code.startswith(p)), key=len, default=None)


def apply(
    findings: Iterable[Finding], config: LintConfig, *, stopper: Finding | None = None
) -> list[Finding]:
    """Filter and re-grade findings; ``stopper`` is the error the analysis stopped at."""
    result = []
    for f in findings:
        if f is stopper or (f.code.startswith("CC1") and f.severity is Severity.ERROR):
            result.append(f)
            continue
        select = config.select
        chosen = _match(f.code, select) if select is not None else ""
        ignored = _match(f.code, config.ignore)
        if chosen is None or (ignored is not None and len(ignored) >= len(chosen)):
            continue
        regrade = _match(f.code, config.severity)
        result.append(f._replace(severity=config.severity[regrade]) if regrade else f)
    return result
