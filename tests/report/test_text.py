"""The text report: golden files (regenerate with `pytest --regenerate`) and its invariants."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from rich.console import Console

import convcalc
from convcalc.report import text

from ..support import ROOT, matches_golden

GOLDEN = ROOT / "tests" / "golden"


def render(name: str, **options: object) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, force_terminal=False)
    text.print_analysis(console, convcalc.analyze(convcalc.load(name), **options))  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["vgg16", "alexnet-224", "resnet18", "inception-3a"])
def test_golden(name: str, regenerate: bool) -> None:
    output = render(name)
    path = GOLDEN / f"{name}.txt"
    matches_golden(path, output, regenerate)


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
    assert (params, macs, mb) == (number(totals[2]), number(totals[3]), number(totals[4]))


def test_megabytes_are_rounded_to_add_up() -> None:
    cells, total = text.rounded_mb([150_528, 3_211_264, 3_211_264, 1000], 4)
    assert total == "25.08"  # 7,574,056 values * 4 bytes / 1024**2 = 28.89... no: see below
    assert sum(Decimal(c) for c in cells if c != "—") == Decimal(total)


def test_no_color_and_plain_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    text.print_analysis(console, convcalc.analyze(convcalc.load("alexnet-224")))
    assert "\x1b[3" not in buffer.getvalue()  # no foreground colours
    plain = render("alexnet-224")
    assert "\x1b[" not in plain
