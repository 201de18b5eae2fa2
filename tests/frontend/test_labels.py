"""Layer names from labels (`LAYER@label`): a label that repeats is numbered `label.1`,
`label.2`, ...; an explicit label of that form would collide with the numbering, and is
refused at the label. Whatever `expand` writes loads again."""

from __future__ import annotations

from pathlib import Path

import pytest

import convcalc

from ..support import check, run, spec


def test_error_a_label_that_the_numbering_of_another_would_give() -> None:
    a = check(spec("INPUT -> CONV(8)@x.1 -> [CONV(8)@x]*2 -> FC(2)"))
    (f,) = a.findings
    assert f.render() == (
        "spec.yaml:4:19: CC113 error: label `x.1` is a name the numbering of label `x` gives "
        "(x.1, x.2, ...): `x` labels a layer that repeats (line 4, column 35)\n"
        "   4 |   INPUT -> CONV(8)@x.1 -> [CONV(8)@x]*2 -> FC(2)\n"
        "     |                   ^~~~\n"
        "  help: choose another label, like x_1; a label that repeats is numbered for you"
    )


@pytest.mark.parametrize(
    "arch",
    [
        "INPUT -> [CONV(8)@x]*2 -> CONV(8)@x.2 -> FC(2)",  # after the numbered layers
        "INPUT -> CONV(8)@x.7 -> [CONV(8)@x]*2 -> FC(2)",  # --set could make it 7
        "INPUT -> ADD{ ID@a.1 | [ID@a]*2 }@m -> FC(2)",  # inside a merge
        "INPUT -> [ID@a.b]*2 -> ID@a.b.2 -> FC(2)",  # dots in the repeated label
        "INPUT -> [ADD{ ID | ID }@m]*2 -> ID@m.1 -> FC(2)",  # a repeated merge label
        "INPUT -> b() -> b() -> ID@r.1 -> FC(2)",  # a label repeated by block calls
    ],
)
def test_labels_that_collide_with_numbering_are_refused(arch: str) -> None:
    a = check(spec(arch, extra='blocks:\n  b: "ID@r"\n'))
    assert [f.code for f in a.findings] == ["CC113"]
    assert "is a name the numbering of label" in a.findings[0].message


@pytest.mark.parametrize(
    ("arch", "names"),
    [
        ("INPUT -> CONV(8)@x.1 -> CONV(8)@x -> FC(2)", ["x.1", "x"]),  # x is not numbered
        ("INPUT -> [CONV(8)@x.1]*2 -> [CONV(8)@x]*2 -> FC(2)", ["x.1.1", "x.1.2", "x.1", "x.2"]),
        ("INPUT -> CONV(8)@x.01 -> [CONV(8)@x]*2 -> FC(2)", ["x.01", "x.1", "x.2"]),
        ("INPUT -> CONV(8)@x.a -> [CONV(8)@x]*2 -> FC(2)", ["x.a", "x.1", "x.2"]),
        ("INPUT -> CONV(8)@conv2 -> CONV(8) -> CONV(8) -> FC(2)", ["conv2", "conv1", "conv3"]),
    ],
)
def test_labels_that_cannot_collide_are_kept(arch: str, names: list[str]) -> None:
    a = check(spec(arch))
    assert [r.name for r in a.rows if r.type == "CONV"] == names
    assert not [f for f in a.findings if f.severity is convcalc.Severity.ERROR]


@pytest.mark.parametrize(
    "arch",
    [
        "INPUT -> [CONV(8)@x]*2 -> CONV(8)@x.a -> FC(2)",
        "INPUT -> [CONV(8)@x.1]*2 -> [CONV(8)@x]*2 -> FC(2)",
        "INPUT -> [[CONV(8)@x -> RELU]*2 -> ADD{ ID@y | ID }@m]*2 -> FC(2)",
        "INPUT -> CONV(8)@conv2 -> [CONV(8)]*3 -> RELU@input -> FC(2)",
        "INPUT -> [CONV(8)@conv1.1 -> CONV(8)]*2 -> FC(2)",
    ],
)
def test_expand_writes_names_that_load_again(arch: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec(arch), encoding="utf-8")
    before = check(spec(arch))
    expanded = run("expand", str(path))
    assert expanded.exit_code == 0, expanded.output
    after = check(expanded.output)
    assert [(r.name, r.type, r.output) for r in after.rows] == [
        (r.name, r.type, r.output) for r in before.rows
    ]
    assert len({r.name for r in after.rows}) == len(after.rows)
