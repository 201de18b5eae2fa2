"""Arithmetic in patterns: long expressions neither recurse nor make a check slow.

A sum of 1,000 terms is 2 KB of spec; 100,000 terms (200 KB) still fit in the 1 MiB file limit.
Every place an expression is read is tried: layer arguments, pairs, counts, optional stages,
`over`, block arguments and defaults, `check -e`, `memory` and `expand`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import convcalc
from convcalc import limits

from ..support import check, run, spec


def ones(n: int) -> str:
    """``1+1+...+1``, n terms: the value n."""
    return "+".join(["1"] * n)


def codes(text: str) -> list[str]:
    try:
        return [f.code for f in check(text).findings if f.code != "CC403"]
    except convcalc.SpecError as exc:
        return [f.code for f in exc.findings]


def places(s: str) -> list[tuple[str, str, str]]:
    """(arch, extra spec keys, expected output) with the expression ``s`` (= 1000) in each
    place an expression can be."""
    return [
        (f"INPUT -> FC({s})", "", "1×1×1000"),
        (f"INPUT -> FC(K={s} - 990)", "", "1×1×10"),
        (f"INPUT -> CONV(4, F=({s} - 997, {s} - 998)) -> FC(2)", "", "1×1×2"),
        (f"INPUT -> [ID]*({s}) -> FC(2)", "", "1×1×2"),
        (f"INPUT -> POOL?({s} - 1000) -> FC(2)", "", "1×1×2"),
        (f"INPUT -> [FC(c)]*1 over c=({s})", "", "1×1×1000"),
        (f"INPUT -> [FC(c)]*2 over c=({s}, 2 * ({s}))", "", "1×1×2000"),
        ("INPUT -> b()", f'blocks:\n  ? b(k={s})\n  : "FC(k)"\n', "1×1×1000"),  # a long key
        (f"INPUT -> b({s})", 'blocks:\n  b(k): "FC(k)"\n', "1×1×1000"),
        (f"INPUT -> FC(-({s}) + 2000)", "", "1×1×1000"),
        (f"INPUT -> FC(2 * {s} // 2 % 1001)", "", "1×1×1000"),
        (f"INPUT -> FC(2000 - ({s}))", "", "1×1×1000"),
    ]


@pytest.mark.parametrize(("arch", "extra", "output"), places(ones(1000)))
def test_a_sum_of_1000_terms_is_evaluated_everywhere(arch: str, extra: str, output: str) -> None:
    a = check(spec(arch, "8x8x3", extra))
    assert "×".join(map(str, a.output or ())) == output
    assert not [f for f in a.findings if f.severity is convcalc.Severity.ERROR]


@pytest.mark.parametrize(
    ("arch", "extra", "output"),
    [pytest.param(*places(ones(100_000))[i], marks=[pytest.mark.slow] if i else [])
     for i in (0, 2, 3, 4, 5, 7, 8)],  # 1–2 s each: the first in every run
)  # fmt: skip
def test_a_sum_of_100000_terms_does_not_recurse(arch: str, extra: str, output: str) -> None:
    """99,999 operators (200 KB): evaluated, or refused as too much work (each operator is a
    step, and the limit is 100,000), or as a count above 20,000."""
    text = spec(arch, "8x8x3", extra)
    assert len(text.encode()) < limits.MAX_FILE_BYTES
    try:
        a = check(text)
    except convcalc.SpecError as exc:
        pytest.fail(exc.render())
    found = [f.code for f in a.findings if f.code not in ("CC403", "CC508")]
    assert found in (["CC121"], ["CC122"]) or a.output == (1, 1, 100_000)


def test_error_a_long_expression_names_its_operators() -> None:
    (f,) = check(spec(f"INPUT -> FC({ones(100_002)})")).findings
    assert f.header() == (
        "spec.yaml:4:15: CC121 error: expanding the pattern takes more than 100,000 steps: "
        "this expression applies 100,001 operators, and each counts as a step"
    )
    assert f.help == "write the value itself, or a shorter expression"


def test_error_a_long_expression_repeated_is_too_much_work() -> None:
    """1,000 repetitions of 100 operators: the work, not the text, is too large."""
    a = check(spec(f"INPUT -> [ID?({ones(101)})]*1000 -> FC(2)"))
    (f,) = a.findings
    assert f.header() == (
        "spec.yaml:4:17: CC121 error: expanding the pattern takes more than 100,000 steps: "
        "this expression applies 100 operators, and each counts as a step"
    )
    assert f.note is not None and f.note.startswith("in repetition 981/1000 of [ID?(1+1+1")
    fine = check(spec(f"INPUT -> [ID?({ones(101)})]*900 -> FC(2)"))
    assert [r.type for r in fine.rows].count("ID") == 900


@pytest.mark.parametrize("command", ["check", "memory", "expand"])
def test_commands_read_a_long_sum(command: str, tmp_path: Path) -> None:
    for n, code in ((1000, 0), (100_000, 1)):  # 100,000 operators and a step: CC121
        path = tmp_path / f"s{n}.yaml"
        path.write_text(spec(f"INPUT -> [ID]*({ones(n)} - {n}) -> FC(10)", "8x8x3"))
        result = run(command, str(path))
        assert result.exit_code == code, result.output
        assert "internal error" not in result.output


def test_check_e_reads_a_long_sum() -> None:
    ok = run("check", "-e", f"INPUT -> FC({ones(1000)})", "--input", "8x8x3")
    assert ok.exit_code == 0 and "1×1×1000" in ok.output
    big = run("check", "-e", f"INPUT -> [ID]*({ones(100_001)} - 100000)", "--input", "8x8x3")
    assert big.exit_code == 1 and "CC121" in big.output


def test_expand_of_long_sums_reloads(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec(f"INPUT -> [FC(c)]*2 over c=({ones(1000)}, {ones(999)})", "8x8x3"))
    expanded = run("expand", str(path))
    assert expanded.exit_code == 0
    again = convcalc.analyze(convcalc.load_text(expanded.output))
    assert [r.output for r in again.rows] == [(8, 8, 3), (1, 1, 1000), (1, 1, 999)]


def test_parentheses_nest_up_to_the_limit() -> None:
    depth = limits.MAX_NESTING - 1  # inside the argument list's own parenthesis
    expr = "(" * depth + "1 + 1" + ")" * depth
    assert codes(spec(f"INPUT -> FC({expr} * 5)")) == []
    assert codes(spec(f"INPUT -> [ID]*({expr}) -> FC(2)")) == []


@pytest.mark.parametrize(
    "arch",
    [
        "INPUT -> FC({})",
        "INPUT -> [ID]*({}) -> FC(2)",
        "INPUT -> ID?({}) -> FC(2)",
        "INPUT -> FC(({}, 1))",
        "INPUT -> [FC(c)]*1 over c=({})",
        "INPUT -> FC(-{})",
    ],
)
def test_parentheses_past_the_limit_are_cc123(arch: str) -> None:
    deep = "(" * (limits.MAX_NESTING + 1) + "1" + ")" * (limits.MAX_NESTING + 1)
    assert codes(spec(arch.format(deep))) == ["CC123"]
