"""Every documented limit (convcalc/limits.py, README "Limits") refused with its own finding."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import convcalc
from convcalc import limits
from convcalc.cli import common

from .support import run, spec


def codes_of(text: str) -> list[str]:
    try:
        return [f.code for f in convcalc.analyze(convcalc.load_text(text)).findings]
    except convcalc.SpecError as exc:
        return [f.code for f in exc.findings]


def test_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(spec("INPUT -> FC(2)") + "#" * limits.MAX_FILE_BYTES, encoding="utf-8")
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.load(path)
    (f,) = info.value.findings
    assert f.code == "CC120" and "1,048,576 bytes" in f.message


@pytest.mark.parametrize(
    "arch",
    [
        f"INPUT -> [ID]*{limits.MAX_REPEAT} -> [ID]*{limits.MAX_REPEAT}",  # layers, one by one
        "INPUT -> [[ID]*1000]*101",  # layers, known before expanding
        "INPUT -> [[[[ID]*0]*10000]*10000]*10000",  # work without layers
    ],
)
def test_expansion_size(arch: str) -> None:
    assert codes_of(spec(arch)) == ["CC121"]


def test_repetition_count() -> None:
    assert codes_of(spec(f"INPUT -> [ID]*{limits.MAX_REPEAT + 1}")) == ["CC122"]
    assert codes_of(spec(f"INPUT -> [ID]*{limits.MAX_REPEAT - 1}")) == []


def test_bracket_nesting() -> None:
    deep = "[" * (limits.MAX_NESTING + 1) + "ID" + "]" * (limits.MAX_NESTING + 1)
    assert codes_of(spec(f"INPUT -> {deep}")) == ["CC123"]
    fine = "[" * limits.MAX_NESTING + "ID" + "]" * limits.MAX_NESTING
    assert codes_of(spec(f"INPUT -> {fine}")) == []


def test_yaml_nesting() -> None:
    deep = "[" * (limits.MAX_NESTING + 2) + "]" * (limits.MAX_NESTING + 2)
    assert codes_of(f"name: t\ninput: 8x8x3\nvars: {{x: {deep}}}\narch: INPUT\n") == ["CC123"]


def test_block_recursion() -> None:
    blocks = 'blocks:\n  down(n): "ID -> down(n - 1)?n"\n'
    assert codes_of(spec(f"INPUT -> down({limits.MAX_RECURSION})", extra=blocks)) == ["CC124"]
    assert codes_of(spec(f"INPUT -> down({limits.MAX_RECURSION - 1})", extra=blocks)) == []


def test_block_calls_with_arguments_that_all_differ_are_bounded_at_once() -> None:
    """2³⁰ distinct calls: bounding them one by one would never end."""
    blocks = 'blocks:\n  b(n, a): "ID -> [b(n - 1, a * 2) -> b(n - 1, a * 2 + 1)]?n"\n'
    start = time.perf_counter()
    assert codes_of(spec("INPUT -> b(30, 0)", extra=blocks)) == ["CC121"]
    assert codes_of(spec("INPUT -> [ID]*0 -> [b(30, 0)]*0", extra=blocks)) == []
    assert codes_of(spec("INPUT -> b(9, 0) -> FC(2)", extra=blocks)) == []
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    ("body", "arch"),
    [
        ("[" * 60 + "ID -> b(n - 1)?n" + "]" * 60, "b(31)"),  # 60 levels a call
        ("ADD{ ID -> b(n - 1)?n | ID }", "b(31) -> " + "[" * 40 + "b(30)" + "]" * 40),
        ("ID", "[" * 60 + "b2(5)" + "]" * 60),
    ],
)
def test_nesting_through_block_calls(body: str, arch: str) -> None:
    blocks = f'blocks:\n  b(n): "{body}"\n  b2(n): "[[[[[ID -> b2(n - 1)?n]]]]]"\n'
    found = codes_of(spec(arch, extra=blocks))
    assert found == ["CC123"]


def test_nesting_through_block_calls_up_to_the_limit() -> None:
    blocks = 'blocks:\n  u(n): "CONV(8, P=1) -> CAT{ ID -> u(n - 1)?n | ID }"\n'
    assert codes_of(spec("INPUT -> u(31) -> GAP", "8x8x1", extra=blocks)) == []
    a = convcalc.analyze(convcalc.load_text(spec("INPUT -> u(31) -> GAP", "8x8x1", extra=blocks)))
    assert a.output == (1, 1, 8 * 33)


def test_yaml_aliases() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6)]
    bomb = "\n".join(lines) + "\nname: t\ninput: 8x8x3\narch: INPUT\n"
    assert codes_of(bomb) == ["CC125"]
    assert codes_of("name: &n t\nvars: &v {N: *v}\ninput: 8x8x3\narch: INPUT\n") == ["CC125"]
    scalars = "x: [&s a, " + ", ".join(["*s"] * limits.MAX_YAML_NODES) + "]\n"
    (f,) = findings_of("name: t\ninput: 8x8x3\narch: INPUT\n" + scalars)
    assert f.message == "YAML aliases expand this document past 100,000 nodes"
    twice = "x: [&a [1, 2], *a, [*a, *a]]\n"  # an anchor and its aliases in one list
    assert codes_of("name: t\ninput: 8x8x3\narch: INPUT\n" + twice) == ["CC104"]


def findings_of(text: str) -> tuple[convcalc.Finding, ...]:
    with pytest.raises(convcalc.SpecError) as info:
        convcalc.load_text(text, "spec.yaml")
    return info.value.findings


def test_error_yaml_nodes_without_aliases_are_not_blamed_on_aliases() -> None:
    keys = "".join(f"  k{i}: {i}\n" for i in range(60_000))
    (f,) = findings_of(f"name: t\ninput: 8x8x3\narch: INPUT\nlint:\n{keys}")
    assert f.render() == (
        "spec.yaml:50000:11: CC125 error: the YAML has more than 100,000 nodes (keys, values "
        "and list items)\n"
        "50000 |   k49995: 49995\n"
        "      |           ^~~~~\n"
        "  help: a spec needs a few dozen; `blocks:` and `*n` repeat layers"
    )


def test_yaml_nodes_up_to_the_limit_are_read() -> None:
    items = ", ".join(["0"] * (limits.MAX_YAML_NODES - 9))  # 9 nodes besides the items
    text = f"name: t\ninput: 8x8x3\narch: INPUT -> FC(2)\ndescription: [{items}]\n"
    assert [f.code for f in findings_of(text)] == ["CC105"]  # read, then refused as no text
    assert [f.code for f in findings_of(text.replace("[", "[0, "))] == ["CC125"]


def test_yaml_nesting_without_brackets_is_located() -> None:
    (f,) = findings_of("name: t\ninput: 8x8x3\narch: INPUT\nvars:\n  - " + "- " * 5000 + "x\n")
    assert f.code == "CC123"
    assert (f.location.line, f.message) == (5, "the YAML nests deeper than 64 levels")


@pytest.mark.parametrize(
    "text",
    [
        spec("INPUT -> CONV(" + "9" * (limits.MAX_INT_DIGITS + 1) + ")"),
        spec("INPUT -> [ID]*(1099511627776 * 2)"),  # arithmetic past 2**40
        spec(f"INPUT -> CONV({limits.MAX_SIZE + 1})"),  # a size argument
        spec("INPUT -> FC(2)", extra="vars: {N: 1" + "0" * 20 + "}\n"),
    ],
)
def test_integer_sizes(text: str) -> None:
    assert "CC126" in codes_of(text)


def test_input_sizes_are_bounded() -> None:
    assert codes_of(spec("INPUT -> FC(2)", f"{limits.MAX_SIZE + 1}x8x3")) == ["CC105"]


def test_output_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")

    def interrupted(source: str, destination: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        common.write_atomically(str(target), "x" * 1_000_000)
    assert target.read_text(encoding="utf-8") == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
    monkeypatch.undo()
    assert run("check", "vgg16", "--format", "json", "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith('{\n  "version": 1')
