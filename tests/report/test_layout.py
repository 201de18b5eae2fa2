"""report/layout.py: words wrapped, a finding cut around its caret, tables that give way, and
the YAML of `expand` folded without changing what it reads as."""

from __future__ import annotations

import pytest
import yaml

from convcalc.report.expanded import folded
from convcalc.report.layout import Column, compact_count, cut, fit_finding, table, wrap
from convcalc.units import in_words


def test_wrap_breaks_at_words_and_keeps_formulas_and_units() -> None:
    text = "pads 1 (0 before, 1 after): (56 − 3 + 1)/2 + 1 = 28 and needs 57.79 MB at most"
    lines = wrap(text, 40, indent="    ")
    assert lines == [
        "pads 1 (0 before, 1 after):",
        "    (56 − 3 + 1)/2 + 1 = 28 and needs",
        "    57.79 MB at most",
    ]
    assert " ".join(line.strip() for line in lines) == text


def test_a_word_longer_than_the_line_is_broken() -> None:
    lines = wrap("x" * 50, 20)
    assert [len(line) for line in lines] == [20, 20, 10]


def test_cut_marks_what_it_cuts() -> None:
    assert cut("skip14.conv", 8) == "skip14.…" and cut("conv1", 8) == "conv1"


@pytest.mark.parametrize(
    ("cell", "short"),
    [
        ("9,408", "9,408"),  # below 10,000: as it is
        ("36,864", "36.9k"),
        ("118,013,952", "118M"),
        ("1,849,688,064", "1.85G"),
        ("999,700", "1.00M"),  # not 1000k
        ("—", "—"),
    ],
)
def test_compact_count(cell: str, short: str) -> None:
    assert compact_count(cell) == short


def test_in_words() -> None:
    assert in_words(128 * 128 * 512 * 4096) == "34.4 billion"
    assert in_words(138_357_544) == "138 million" and in_words(48_000) == "48,000"


FINDING = (
    "spec.yaml:3:130: CC203 error: conv13: the width would be (4 − 9 + 0)/1 + 1 = -4 < 1\n"
    "   3 | arch: INPUT" + " -> CONV(8, P=1)" * 7 + " -> CONV(8, F=9) -> FC(2)\n"
    "     | " + " " * 127 + "^~~~~~~~~~~~\n"
    "  help: pad more, use a smaller filter, or remove a pooling layer before this"
)


def test_a_finding_fits_with_its_caret_under_the_same_text() -> None:
    lines = fit_finding(FINDING, 60)
    assert all(len(line) <= 60 and line == line.rstrip() for line in lines)
    source = next(i for i, line in enumerate(lines) if line.startswith("   3 | "))
    caret = lines[source + 1].index("^")
    assert lines[source][caret:].startswith("CONV(8, F=9)")
    assert lines[source].startswith("   3 | …") and lines[source + 1].startswith("     | ")
    assert lines[0].endswith("(4 − 9 + 0)/1 + 1 = -4 < 1") or "−" in lines[1]
    assert lines[-1].startswith("        ")  # the help's continuation under its text


def test_a_table_gives_way_in_its_plan_order() -> None:
    columns = [Column("name", narrowest=4), Column("count", right=True, compact=compact_count),
               Column("note")]  # fmt: skip
    body = [["alexnet", "62,378,344", "first"], ["resnet18", "11,689,512", "second"]]
    plan = [("compact", 1), ("drop", 2), ("narrow", 0)]
    assert table(columns, body, 40, plan).plain.splitlines()[2] == "alexnet   62,378,344  first"
    assert table(columns, body, 23, plan).plain.splitlines()[2] == "alexnet   62.4M  first"
    assert table(columns, body, 15, plan).plain.splitlines()[2] == "alexnet   62.4M"
    assert table(columns, body, 12, plan).plain.splitlines()[3] == "resn…  11.7M"


@pytest.mark.parametrize(
    "value",
    [
        "VGG-16, Simonyan & Zisserman 2014, configuration D. As tabulated in the CS231n notes "
        '("VGGNet in detail"): 13 CONV3 layers, 5 POOL2 layers and 3 FC layers on 224×224×3.',
        "two  spaces  between  words " * 6 + "and a tab\there, a newline\nthere",
        "x" * 200,
    ],
)
def test_folded_yaml_reads_back_the_same(value: str) -> None:
    lines = folded("description", value)
    assert all(len(line) <= 80 for line in lines) or len(lines) == 1
    assert yaml.safe_load("\n".join(lines)) == {"description": value}
