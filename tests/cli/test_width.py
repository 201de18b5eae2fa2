"""Every text output fits its width (README, "Output width"): each command rendered at 80 and
120 columns (COLUMNS, as a terminal of that width sets it) and piped (100 columns), no line
wider, none with a trailing space, no table row wrapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len

from convcalc.cli import cli

from ..support import ROOT, spec

#: A pattern on one line far wider than any terminal, with its error at the end: the caret
#: line must stay under the error once the source line is cut to the width.
LONG_LINE = "INPUT" + " -> CONV(8, P=1) -> RELU" * 12 + " -> CONV(8, F=99)"


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of three specs: one sound, one that stops at an error, one that does not
    parse."""
    top = tmp_path_factory.mktemp("specs")
    (top / "a-good.yaml").write_text(
        (ROOT / "specs" / "resnet18.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (top / "b-long.yaml").write_text(spec(LONG_LINE, "64x64x3"), encoding="utf-8")
    (top / "c-broken.yaml").write_text("name: x\ninput: 8x8x3\narch: INPUT -> CONV(4\n")
    return top


COMMANDS = [
    ["check", "resnet50"],
    ["check", "vgg16", "--input", "4096x4096x3"],
    ["check", "inception-3a"],
    ["check", "{specs}"],
    ["check", "{specs}", "-q"],
    ["check", "{specs}", "--hide-info"],
    ["check", "-e", LONG_LINE, "--input", "64x64x3"],
    ["list"],
    ["rules"],
    ["rules", "CC2"],
    ["expand", "vgg16"],
    ["convert", "--fc-to-conv", "vgg16", "--input", "384x384x3"],
    ["run", "lenet5"],
    ["run", "vgg16", "--input", "4096x4096x3"],
    ["check", "--help"],
    ["run", "--help"],
]


def invoke(args: list[str], columns: int | None) -> Result:
    env = {"COLUMNS": str(columns) if columns else ""}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False, prog_name="convcalc")


def assert_fits(text: str, width: int) -> None:
    lines = text.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}, first: {too_wide[0]!r}"
    trailing = [line for line in lines if line != line.rstrip()]
    assert not trailing, f"a trailing space: {trailing[0]!r}"


@pytest.mark.parametrize("width", [80, 120, None])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_fits_its_width(args: list[str], width: int | None, specs: Path) -> None:
    if args[0] == "run" and args[1] == "lenet5" and width is None:
        pytest.skip("the pass itself is the same at every width")
    result = invoke([a.format(specs=specs) for a in args], width)
    assert result.exit_code in (0, 1), result.output
    assert_fits(result.stdout, width or 100)
    assert_fits(result.stderr, width or 100)


def test_the_layer_table_gives_way_in_the_stated_order() -> None:
    """At 120 columns the whole table; at 80 the shorter headers; narrower, abbreviated
    counts, then RF goes, then act. MB, then params (README, "Output width")."""
    headers = {}
    for width in (120, 80, 70, 64, 56, 44):
        table = invoke(["check", "resnet50"], width).stdout.splitlines()[2]
        headers[width] = table.split()
    everything = ["layer", "type", "output", "params", "MACs", "act.", "MB", "RF"]
    assert headers[120] == [*everything[:3], "W×H×D", *everything[3:]]
    assert headers[80] == everything
    assert headers[70] == ["layer", "type", "output", "params", "MACs", "MB", "RF"]
    assert headers[64] == ["layer", "type", "output", "params", "MACs", "MB"]
    assert headers[56] == ["layer", "type", "output", "params", "MACs"]
    assert headers[44] == ["layer", "type", "output", "MACs"]
    row = next(line for line in invoke(["check", "resnet50"], 64).stdout.splitlines()
               if line.startswith("conv1 "))  # fmt: skip
    # 9,408 parameters (7·7·3·64) and 118,013,952 MACs (112·112·64·7·7·3), abbreviated
    assert row.split()[-3:] == ["9,408", "118M", "3.06"]


def test_a_long_source_line_is_cut_around_its_caret() -> None:
    lines = invoke(["check", "-e", LONG_LINE, "--input", "64x64x3"], 80).stderr.splitlines()
    lines += invoke(["check", "-e", LONG_LINE, "--input", "64x64x3"], 80).stdout.splitlines()
    source = next(i for i, line in enumerate(lines) if "CONV(8, F=99)" in line)
    caret = lines[source + 1]
    start = caret.index("^")
    assert lines[source][start:].startswith("CONV(8, F=99)")
    assert lines[source].split("|", 1)[1].lstrip().startswith("…")


@pytest.mark.parametrize("width", [80, 120])
def test_an_error_message_wraps_to_the_width(width: int, specs: Path) -> None:
    missing = specs / ("a-directory-name-long-enough-to-wrap-" * 3) / "net.yaml"
    result = invoke(["check", str(missing), "--set", "N=3"], width)
    assert result.exit_code == 2 and result.stderr.startswith("convcalc: error: ")
    assert_fits(result.stderr, width)
