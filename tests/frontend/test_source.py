"""Lines and columns of a spec file, whatever its line breaks (convcalc/source.py): YAML breaks
lines at \\n, \\r\\n, a lone \\r (old Mac files), NEL, LS and PS, and so must every location."""

from __future__ import annotations

import pytest

import convcalc
from convcalc.frontend.spec import load_bytes
from convcalc.source import SourceFile

LINES = ["name: t", "input: 32x32x3", "arch: |", "  INPUT", "  -> CONV(8, Q=1) -> FC(2)", ""]
BREAKS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r", "NEL": "\x85", "LS": "\u2028", "PS": "\u2029"}


def rendered(text: str) -> str:
    """The one error of a spec, rendered."""
    try:
        findings = convcalc.analyze(convcalc.load_text(text, "spec.yaml")).findings
    except convcalc.SpecError as exc:
        findings = exc.findings
    (error,) = [f for f in findings if f.severity is convcalc.Severity.ERROR]
    return error.render()


@pytest.mark.parametrize("brk", list(BREAKS.values()), ids=list(BREAKS))
def test_error_location_of_an_arch_token_whatever_the_line_breaks(brk: str) -> None:
    assert rendered(brk.join(LINES)) == (
        "spec.yaml:5:14: CC111 error: CONV has no argument `Q`\n"
        "   5 |   -> CONV(8, Q=1) -> FC(2)\n"
        "     |              ^\n"
        "  help: CONV takes: K, F, S, P, dilation, groups, bias"
    )


@pytest.mark.parametrize("brk", list(BREAKS.values()), ids=list(BREAKS))
def test_error_location_of_a_yaml_key_whatever_the_line_breaks(brk: str) -> None:
    text = brk.join(["name: t", "input: 32x32x3", "dtpye: float32", "arch: INPUT -> FC(2)", ""])
    assert rendered(text).splitlines()[:3] == [
        "spec.yaml:3:1: CC104 error: unknown key `dtpye`; did you mean `dtype`?",
        "   3 | dtpye: float32",
        "     | ^~~~~",
    ]


def test_lone_cr_and_crlf_mixed() -> None:
    file = SourceFile("f", "a\rb\r\nc\nd\r\re")
    assert [file.line_text(n) for n in range(1, 7)] == ["a", "b", "c", "d", "", "e"]
    assert file.line_col(file.text.index("c")) == (3, 1)
    assert file.line_col(file.text.index("e")) == (6, 1)
    assert file.offset(6, 1) == file.text.index("e")


def test_error_location_in_a_cr_only_block_scalar_after_a_comment() -> None:
    text = "name: t\rinput: 8x8x3\rarch: |  # INPUT -> FC(2)\r  INPUT -> FC(2) -> RELUU\r"
    assert rendered(text).splitlines()[:3] == [
        "spec.yaml:4:21: CC108 error: unknown layer or block `RELUU`; did you mean `RELU`?",
        "   4 |   INPUT -> FC(2) -> RELUU",
        "     |                     ^~~~~",
    ]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b"name: t\rinput: 8x8x3\rarch: INPUT -> \xff\r", "line 3, column 16"),
        (b"name: t\rinput: 8x8x3\rarch: INPUT -> \x00\r", "line 3, column 16"),
        (b"\xef\xbb\xbfname: \xff\n", "line 1, column 7"),
    ],
)
def test_error_location_of_bad_bytes_counts_every_line_break(raw: bytes, where: str) -> None:
    with pytest.raises(convcalc.SpecError) as info:
        load_bytes(raw, "spec.yaml")
    (finding,) = info.value.findings
    assert where in finding.message
    line, column = (int(n) for n in where.replace("line ", "").split(", column "))
    assert (finding.location.line, finding.location.column) == (line, column)
