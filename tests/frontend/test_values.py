"""Values read from a spec: numbers must be finite and written in ASCII digits, and a bad
item of `input: [W, H, D]` is named, at its own place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import convcalc
from convcalc.frontend.spec_schema import parse_shape

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


# -- 6. digits that are not ASCII -----------------------------------------------------------


def test_error_arabic_indic_digits_in_arch() -> None:
    assert error(spec("INPUT -> CONV(٣٢) -> FC(2)")).render() == (
        "spec.yaml:4:17: CC107 error: unexpected character `٣`\n"
        "   4 |   INPUT -> CONV(٣٢) -> FC(2)\n"
        "     |                 ^\n"
        "  help: U+0663 ARABIC-INDIC DIGIT THREE is not an ASCII digit; write 32 for `٣٢`"
    )


@pytest.mark.parametrize(
    ("arch", "char"),
    [
        ("INPUT -> CONV(３２) -> FC(2)", "U+FF13 FULLWIDTH DIGIT THREE"),
        ("INPUT -> CONV(3٢) -> FC(2)", "U+0662 ARABIC-INDIC DIGIT TWO"),
        ("INPUT -> [ID]*٣ -> FC(2)", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("INPUT -> CONV٣-٦٤ -> FC(2)", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("INPUT -> CONV(8, F=3.٥) -> FC(2)", "U+0665 ARABIC-INDIC DIGIT FIVE"),
        ("INPUT -> FC(2)@fc٣", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("INPUT -> FC(n٣)", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("INPUT -> FC(2²)", "U+00B2 SUPERSCRIPT TWO"),
    ],
)
def test_non_ascii_digits_in_arch_are_named(arch: str, char: str) -> None:
    f = error(spec(arch))
    assert f.code == "CC107" and f.message.startswith("unexpected character")
    assert f.help is not None and f.help.startswith(f"{char} is not an ASCII digit; write ")


def test_non_ascii_letters_in_arch_are_named() -> None:
    f = error(spec("INPUT -> СONV(8) -> FC(2)"))  # a Cyrillic С
    assert f.help == (
        "U+0421 CYRILLIC CAPITAL LETTER ES is not ASCII; names in a pattern are ASCII "
        "letters, digits and _"
    )


@pytest.mark.parametrize(
    ("value", "char"),
    [
        ("٣٢x٣٢x٣", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("３２x３２x３", "U+FF13 FULLWIDTH DIGIT THREE"),
        ("32x32x٣", "U+0663 ARABIC-INDIC DIGIT THREE"),
    ],
)
def test_non_ascii_digits_in_input_are_named(value: str, char: str) -> None:
    f = error(spec("INPUT -> FC(2)", value))
    assert f.code == "CC105"
    assert f.message == (
        f"`input`: expected W x H x D, like 224x224x3 or [224, 224, 3], got '{value}'"
    )
    assert f.help is not None and f.help.startswith(f"{char} is not an ASCII digit; write ")
    with pytest.raises(ValueError, match=re.escape(f"{char} is not an ASCII digit")):
        parse_shape(value)


def test_error_non_ascii_digits_in_input_option() -> None:
    result = run("check", "vgg16", "--input", "٢٢٤x٢٢٤x٣")
    assert result.exit_code == 2
    assert "U+0662 ARABIC-INDIC DIGIT TWO is not an ASCII digit; write 224 for `٢٢٤`" in (
        result.output
    )


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ("memory: {batch: ٣}\n", "memory.batch"),
        ("vars: {N: ٣}\n", "vars.N"),
        ("defaults: {CONV: {K: ٣}}\n", None),
        ('budgets: {activations: "١٠MB"}\n', "budgets.activations"),
    ],
)
def test_non_ascii_digits_in_other_fields_are_named(extra: str, path: str | None) -> None:
    f = error(spec("INPUT -> CONV(F=1) -> FC(2)", extra=extra))
    assert f.help is not None and "is not an ASCII digit; write " in f.help, f.render()
    if path is not None:
        assert f.message.startswith(f"`{path}`")


# -- 7. a bad item of input: [W, H, D] ------------------------------------------------------


def test_error_input_list_with_a_yaml_boolean() -> None:
    text = "name: t\ninput: [yes, 3, 3]\narch: INPUT -> FC(2)\n"
    assert error(text).render() == (
        "spec.yaml:2:9: CC105 error: `input`: item 1 is `yes`, which YAML reads as true (a "
        "boolean), not an integer\n"
        "   2 | input: [yes, 3, 3]\n"
        "     |         ^~~\n"
        "  help: write W, H and D as integers: input: [224, 224, 3] or input: 224x224x3"
    )


@pytest.mark.parametrize(
    ("items", "message", "column"),
    [
        ("[3, true, 3]", "item 2 is true (a boolean), not an integer", 12),
        (
            "[3, 3, off]",
            "item 3 is `off`, which YAML reads as false (a boolean), not an integer",
            15,
        ),
        ("[3, '3', 3]", "item 2 is '3' (text), not an integer", 12),
        ("[3, 3.0, 3]", "item 2 is 3.0 (a number with a fraction), not an integer", 12),
        ("[3, 3, ]", "expected W x H x D, like 224x224x3 or [224, 224, 3], got a list", 8),
        ("[3, null, 3]", "item 2 is empty, not an integer", 12),
        ("[3, [3], 3]", "item 2 is a list, not an integer", 12),
        ("[3, {a: 3}, 3]", "item 2 is a mapping, not an integer", 12),
        ("[3, ٣, 3]", "item 2 is '٣' (text), not an integer", 12),
    ],
)
def test_input_list_items_are_named(items: str, message: str, column: int) -> None:
    f = error(f"name: t\ninput: {items}\narch: INPUT -> FC(2)\n")
    assert (f.code, f.message, f.location.line, f.location.column) == (
        "CC105",
        f"`input`: {message}",
        2,
        column,
    )


def test_error_a_budget_too_large_to_read() -> None:
    digits = "9" * 400
    f = error(spec("INPUT -> FC(2)", extra=f'budgets: {{activations: "{digits}.5MB"}}\n'))
    assert f.code == "CC105"
    assert f.message == (
        "`budgets.activations`: the number is too large for a size, got "
        "'9999999999999999999…999999999999999.5MB'"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("check", "cs231n-pattern", "--set", "N=３"),
        ("run", "lenet5", "--seed", "３"),
        ("run", "lenet5", "--batch", "٢"),
        ("memory", "lenet5", "--budget", "１GB"),
    ],
)
def test_options_take_ascii_digits_only(args: tuple[str, ...]) -> None:
    """int() and float() read other scripts' digits ('３' is 3); an option, like a spec,
    takes ASCII ones, and says so instead of running with a value the user did not type."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
