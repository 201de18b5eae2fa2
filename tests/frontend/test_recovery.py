"""Issue 14: every grammar error of a pattern, and every unknown layer or wrong argument of
its expansion, in one run; the parser recovers at the next `->` or bracket, and neither the
recovery nor a repetition adds errors of its own."""

from __future__ import annotations

import pytest

import convcalc
from convcalc import limits

from ..support import check, spec


def errors(arch: str, shape: str = "32x32x3") -> list[tuple[str, int | None, str]]:
    """(code, column, message) of each error, whether the spec loads or not."""
    try:
        found = check(spec(arch, shape)).findings
    except convcalc.SpecError as exc:
        found = exc.findings
    return [(f.code, f.location.column, f.message) for f in found if f.severity.name == "ERROR"]


def test_error_typo_and_argument_both_reported() -> None:
    arch = "INPUT -> CONV(32, P=1) -> RELLU -> POOL -> CONV(64, padding=1) -> RELU -> FC(10)"
    assert errors(arch) == [
        ("CC108", 29, "unknown layer or block `RELLU`; did you mean `RELU`?"),
        ("CC111", 55, "CONV has no argument `padding`; did you mean `P`?"),
    ]


def test_error_grammar_recovers_at_the_next_arrow() -> None:
    assert errors("INPUT -> CONV(32,, P=1) -> RELU -> POOL(F=) -> FC(10)") == [
        ("CC107", 20, "expected an argument, found `,`"),
        ("CC107", 45, "expected a number or a name, found `)`"),
    ]


def test_error_grammar_recovers_inside_brackets_and_merges() -> None:
    assert errors("INPUT -> [CONV -> -> RELU]*2 -> ADD{ CONV | } -> FC(10") == [
        ("CC107", 21, "expected a layer before `->`"),
        ("CC107", 47, "a branch of ADD is empty"),
        ("CC107", 54, "`(` is never closed"),
    ]


def test_error_missing_parenthesis_is_one_error() -> None:
    """`->` cannot be inside arguments: the `(` was left open, and the merge around it is
    closed as written (no "`{` is never closed" after it)."""
    assert errors("INPUT -> CAT{ ID | POOL(F=2, S=2 -> ID } -> FC(10)") == [
        ("CC107", 36, "expected `)` to close the `(` at column 26, found `->`"),
    ]


def test_error_stray_tokens_each_once() -> None:
    assert errors("INPUT -> CONV(32)) -> RELU BN -> ] -> FC(10)") == [
        ("CC107", 20, "unmatched `)`"),
        ("CC107", 30, "expected `->` or the end of the pattern, found `BN`"),
        ("CC107", 36, "expected a layer, a block, `[` or a merge, found `]`"),
    ]


def test_error_bad_characters_once_per_stage() -> None:
    assert [e[:2] for e in errors("INPUT -> CONV(３２) -> RELU -> POOL(F=2; S=2) -> FC(10)")] == [
        ("CC107", 17),
        ("CC107", 40),
    ]


def test_error_in_a_repetition_or_a_block_is_reported_once() -> None:
    text = (
        "name: t\ninput: 32x32x3\nblocks:\n  unit(k): CONV(k, pad=1) -> RELU\n"
        "arch: INPUT -> [unit(32) -> CONV(32, s=2)]*3 -> unit(64) -> FC(10)\n"
    )
    a = check(text)
    assert [(f.code, f.location.line, f.location.column) for f in a.findings] == [
        ("CC111", 4, 20),
        ("CC111", 5, 38),
    ]


def test_error_input_optional_is_one_error() -> None:
    assert [e[:2] for e in errors("INPUT? -> CONV(16) -> FC(10)")] == [("CC115", 8)]


def test_errors_are_capped() -> None:
    arch = " -> ".join(["INPUT", *["FC(2, x=1)"] * (limits.MAX_ERRORS + 50)])
    assert len(errors(arch)) == limits.MAX_ERRORS
    grammar = " -> ".join(["INPUT", *["FC(2,,)"] * (limits.MAX_ERRORS + 50)])
    assert len(errors(grammar)) == limits.MAX_ERRORS


@pytest.mark.parametrize(
    "arch",
    [
        "INPUT -> CONV(32, P=1) -> RELU -> FC(10)",
        "INPUT -> [CONV(8, F=3, P=1) -> RELU]*2 -> ADD{ ID | CONV(8, F=3, P=1) } -> FC(10)",
    ],
)
def test_a_sound_pattern_has_no_error(arch: str) -> None:
    assert errors(arch) == []
