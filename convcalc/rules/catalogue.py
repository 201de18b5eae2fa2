"""The rule catalogue: every finding code convcalc can emit, with its default severity.

Codes are stable. CC1xx: the spec and its grammar; CC2xx: geometry; CC3xx: merges.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import Finding, Location, Severity


class Rule(NamedTuple):
    code: str
    severity: Severity
    summary: str


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

_RULES = [
    Rule("CC100", E, "the file is empty or not UTF-8 text"),
    Rule("CC101", E, "YAML syntax error"),
    Rule("CC102", E, "YAML feature not allowed (tags, merge keys, non-string keys)"),
    Rule("CC103", E, "duplicate key"),
    Rule("CC104", E, "unknown key"),
    Rule("CC105", E, "missing or invalid spec field"),
    Rule("CC106", E, "`arch` is not a string (YAML read it as a list or mapping)"),
    Rule("CC107", E, "syntax error in a pattern"),
    Rule("CC108", E, "unknown layer type or block"),
    Rule("CC109", E, "unbound variable"),
    Rule("CC110", E, "`over` gives a different number of values than the repetition count"),
    Rule("CC111", E, "invalid layer argument"),
    Rule("CC112", I, "a bare optional stage `X?` is present by default"),
    Rule("CC113", E, "invalid block or variable definition, or a wrong call"),
    Rule("CC114", E, "invalid arithmetic (division by zero, negative count, pair in arithmetic)"),
    Rule("CC115", E, "INPUT anywhere but at the start of `arch`"),
    Rule("CC120", E, "limit: spec file too large"),
    Rule("CC121", E, "limit: too many layers, or too much work, after expansion"),
    Rule("CC122", E, "limit: repetition count too large"),
    Rule("CC123", E, "limit: nesting too deep"),
    Rule("CC124", E, "limit: block recursion too deep"),
    Rule("CC125", E, "limit: too many YAML nodes (aliases expanded)"),
    Rule("CC126", E, "limit: integer too large"),
    Rule("CC130", E, "ONNX: an operator or pattern that has no convcalc layer"),
    Rule("CC131", E, "ONNX: the file is not an ONNX model, or is malformed or truncated"),
    Rule("CC132", I, "ONNX: the exporter folded BatchNorms into the CONVs before them"),
    Rule("CC201", W, "stride doesn't fit: real input rows/columns are never read"),
    Rule(
        "CC202",
        I,
        "stride doesn't fit, but only padding (or no more than the stride's own gap) is unread",
    ),
    Rule("CC203", E, "output size below 1"),
    Rule("CC204", I, "stride larger than the kernel: input pixels between windows are skipped"),
    Rule("CC205", I, "framework-dependent rounding: floor and ceil give different sizes"),
    Rule(
        "CC206", I, "`same` padding is asymmetric here (frameworks disagree where the extra goes)"
    ),
    Rule("CC207", E, "groups do not divide the channels"),
    Rule("CC208", I, "an adaptive pool larger than its input repeats input values"),
    Rule("CC209", E, "a SLICE outside the input's channels, or of none"),
    Rule("CC301", E, "ADD branches have different shapes"),
    Rule("CC302", E, "CAT branches have different width or height"),
    Rule("CC303", W, "ADD/CAT branches are misaligned (different total stride or centre)"),
    Rule("CC304", I, "SKIP became an unusual projection inferred from the sibling branch"),
    Rule("CC305", E, "SKIP cannot be resolved"),
    Rule("CC306", E, "MUL branches neither have one shape nor broadcast (1×1×D over W×H×D)"),
    Rule("CC401", W, "activations per image over the spec's `budgets: activations`"),
    Rule("CC402", W, "parameters over the spec's `budgets: parameters`"),
    Rule("CC403", I, "one layer holds more than half of all parameters"),
    Rule("CC501", I, "the input is not divisible by 2 as many times as the network halves it"),
    Rule("CC502", I, "a dense CONV filter larger than 5×5 after the first CONV layer"),
    Rule("CC503", I, "one large CONV that a stack of 3×3 CONVs could replace with fewer weights"),
    Rule("CC504", W, "a stride-1 CONV whose padding is not (F − 1)/2: the volume shrinks"),
    Rule("CC505", W, "a POOL window larger than 3 (too lossy and aggressive)"),
    Rule("CC506", I, "a padded POOL (not common)"),
    Rule("CC507", W, "windows that read mostly padding: the map is smaller than the filter"),
    Rule("CC508", I, "the first FC reads a large spatial volume"),
    Rule("CC509", W, "a DROPPATH outside a residual branch: it drops the whole signal"),
    Rule("CC510", W, "an LN over a single channel: its output is β whatever the input"),
]

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}


def finding(
    code: str,
    message: str,
    location: Location,
    *,
    help: str | None = None,
    layer: str | None = None,
    note: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A finding with the rule's default severity (unless one is given)."""
    rule = RULES[code]
    return Finding(code, severity or rule.severity, message, location, help, layer, note)
