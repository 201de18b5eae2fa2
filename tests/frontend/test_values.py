"""Values read from a spec: numbers must be finite."""

from __future__ import annotations

from pathlib import Path

import pytest

import convcalc

from ..support import check, run, spec


def error(text: str) -> convcalc.Finding:
    """The one error of a spec."""
    try:
        findings = check(text).findings
    except convcalc.SpecError as exc:
        findings = exc.findings
    (found,) = [f for f in findings if f.severity is convcalc.Severity.ERROR]
    return found


# -- 5. numbers that are not finite ---------------------------------------------------------


def test_error_a_float_literal_that_overflows() -> None:
    assert error(spec("INPUT -> LRELU(1e999) -> FC(2)")).render() == (
        "spec.yaml:4:18: CC111 error: `1e999` is not a finite number: it is larger than "
        "1.8e308 and would be infinite\n"
        "   4 |   INPUT -> LRELU(1e999) -> FC(2)\n"
        "     |                  ^~~~~\n"
        "  help: write a number of at most 1.8e308"
    )


@pytest.mark.parametrize(
    ("arch", "default"),
    [
        ("INPUT -> LRELU(-1e999) -> FC(2)", "2"),
        ("INPUT -> LRELU(slope=1E+400) -> FC(2)", "2"),
        ("INPUT -> DROPOUT(p=123456789.0e999) -> FC(2)", "2"),
        ("INPUT -> b(1e999) -> FC(2)", "2"),
        ("INPUT -> b() -> FC(2)", "2e308"),
    ],
)
def test_float_literals_that_overflow_are_refused(arch: str, default: str) -> None:
    blocks = f'blocks:\n  "b(s={default})": "LRELU(s)"\n'
    f = error(spec(arch, extra=blocks))
    assert f.code == "CC111" and "is not a finite number" in f.message


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", "1.0e+999"])
def test_defaults_that_are_not_finite_are_refused(value: str) -> None:
    f = error(spec("INPUT -> LRELU -> FC(2)", extra=f"defaults:\n  LRELU: {{slope: {value}}}\n"))
    assert f.code == "CC111"
    assert f.message.startswith("LRELU argument slope=")
    assert f.message.endswith(": expected a finite number")
    assert f.location.line == 4


def test_large_finite_floats_are_kept_and_expand_reloads(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec("INPUT -> LRELU(1e308) -> ELU(alpha=1.5e-300) -> FC(2)"))
    expanded = run("expand", str(path))
    assert expanded.exit_code == 0, expanded.output
    assert "LRELU(1e+308)@lrelu1" in expanded.output
    again = check(expanded.output)
    assert [r.args for r in again.rows] == [r.args for r in check(path.read_text()).rows]
