"""The text report: golden files (regenerate with `pytest --regenerate`) and its invariants."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from rich.console import Console

import convcalc
from convcalc.report import text
from convcalc.units import MB, macs, megabytes

from ..support import ROOT, matches_golden

GOLDEN = ROOT / "tests" / "golden"


def render(name: str, width: int = 120, **options: object) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    text.print_analysis(console, convcalc.analyze(convcalc.load(name), **options))  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["vgg16", "alexnet-224", "resnet18", "inception-3a"])
def test_golden(name: str, regenerate: bool) -> None:
    output = render(name)
    path = GOLDEN / f"{name}.txt"
    matches_golden(path, output, regenerate)


def test_golden_at_80_columns(regenerate: bool) -> None:
    """The table narrowed (shorter headers), findings and legend wrapped at words."""
    output = render("resnet18", width=80)
    assert max(map(len, output.splitlines())) <= 80
    matches_golden(GOLDEN / "resnet18-80.txt", output, regenerate)


def table_lines(output: str) -> tuple[list[list[str]], list[str]]:
    lines = output.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("────")]
    body = [re.split(r"\s{2,}", line.strip()) for line in lines[rules[0] + 1 : rules[1]]]
    totals = re.split(r"\s{2,}", lines[rules[1] + 1].strip())
    return body, totals


@pytest.mark.parametrize("name", ["vgg16", "alexnet", "resnet18", "lenet5", "inception-3a"])
def test_printed_rows_add_up_to_the_printed_totals(name: str) -> None:
    body, totals = table_lines(render(name))

    def number(cell: str) -> Decimal:
        return Decimal(0) if cell == "—" else Decimal(cell.replace(",", ""))

    # columns: layer, type, output, params, MACs, act. MB, RF; totals: total, output, params, ...
    params, macs, mb = (sum(number(row[i]) for row in body) for i in (3, 4, 5))
    assert (params, macs) == (number(totals[2]), number(totals[3]))
    # each MB is rounded on its own (half a hundredth at most each way)
    assert abs(mb - number(totals[4])) <= Decimal("0.005") * len(body)


def test_one_value_rounds_the_same_everywhere() -> None:
    # 224×224×3 float32 values: 602,112 bytes = 0.5742… MB; conv3 of VGG16, 112×112×128:
    # 6,422,528 bytes = 6.125 MB exactly, rounded half up as on paper
    assert text.mb_cells([150_528, 1_605_632], 4) == (["0.57", "6.13"], "6.70")
    vgg = render("vgg16")
    assert re.search(r"^input .* 0\.57 ", vgg, re.M) and re.search(r"^conv3 .* 6\.13 ", vgg, re.M)
    assert megabytes(6_422_528) == "6.13" and megabytes(602_112) == "0.57"
    assert megabytes(5_000 * MB + 5_243) == "5,000.01"  # 0.0050001 up, thousands separated


def test_whole_bytes_round_in_integers_as_in_decimal() -> None:
    """Whole bytes take an integer path; the decimal rounding of the same value is its
    oracle, at every half and either side of it, for 1 to 4 digits."""
    from convcalc.units import rounded

    half = MB // 200  # 0.005 MB
    values = [0, 1, half - 1, half, half + 1, 3 * half, MB - 1, MB, 10**15 + 7, 2**53 + 1]
    values += [k * 5_243 + j for k in range(0, 4000, 37) for j in (-1, 0, 1) if k * 5_243 + j >= 0]
    for digits in (1, 2, 3, 4):
        for v in values:
            oracle = f"{rounded(Decimal(v) / MB, digits):,.{digits}f}"
            assert megabytes(v, digits) == oracle, (v, digits)
    assert megabytes(1.5) == megabytes(Decimal("1.5")) == "0.00"  # no int: the decimal path


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (15_470_264_320, "15.470 GMACs"),  # VGG16, as published
        (5_165_793_214_464, "5,165.793 GMACs"),
        (39_293_000, "39.293 MMACs"),
        (416_520, "416.520 kMACs"),
        (999, "999 MACs"),
        (0, "0 MACs"),
    ],
)
def test_macs_take_the_unit_of_their_magnitude(value: int, shown: str) -> None:
    assert macs(value) == shown


def test_no_color_and_plain_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    text.print_analysis(console, convcalc.analyze(convcalc.load("alexnet-224")))
    assert "\x1b[3" not in buffer.getvalue()  # no foreground colours
    plain = render("alexnet-224")
    assert "\x1b[" not in plain


def test_a_terminal_table_styles_its_header_and_totals_and_writes_its_body() -> None:
    """On a terminal the body is written as it is, the header and totals styled around it;
    without the styles the report reads as the plain one. Oracle: rich printing the whole
    table as one styled text (a recording console prints that way)."""
    analysis = convcalc.analyze(convcalc.load("alexnet-224"))
    outputs = []
    for record in (False, True):
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=120,
                          record=record)  # fmt: skip
        text.print_analysis(console, analysis)
        outputs.append(buffer.getvalue())
    fast, whole = outputs
    assert "\x1b[1m" in fast and "\x1b[2m" in fast  # bold header and totals, dim rules
    strip = re.compile(r"\x1b\[[0-9;]*m")
    assert strip.sub("", fast) == strip.sub("", whole)
    assert len(fast.splitlines()) > 20
    header = next(line for line in fast.splitlines() if "layer" in line and "type" in line)
    assert header.startswith("\x1b[1m")
