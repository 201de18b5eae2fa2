"""What `check` prints, apart from what --fail-on decides: --show-info/--hide-info, -q, a run of
many specs (the legend once, a closing summary line), and no counts for a spec that failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from convcalc.cli import cli

from ..support import ROOT

LEGEND = "MACs: multiply-accumulates"


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lenet5 (one info), a spec that stops at an error after a row, one that does not parse."""
    top = tmp_path_factory.mktemp("specs")
    lenet = (ROOT / "specs" / "lenet5.yaml").read_text(encoding="utf-8")
    (top / "a-lenet5.yaml").write_text(lenet, encoding="utf-8")
    (top / "b-stops.yaml").write_text(
        "name: stops\ninput: 8x8x3\narch: INPUT -> CONV(4, F=3) -> CONV(4, F=9) -> FC(2)\n"
    )
    (top / "c-broken.yaml").write_text("name: x\ninput: 8x8x3\narch: INPUT -> CONV(4\n")
    return top


def check(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check", *args], env={"COLUMNS": "100"}, prog_name="convcalc")


def test_hide_info_prints_no_info_and_keeps_the_exit_code() -> None:
    shown, hidden = check("lenet5"), check("lenet5", "--hide-info")
    assert "CC403 info" in shown.stdout and "CC403" not in hidden.stdout
    assert "· 1 info\n" in shown.stdout and "· 1 info (hidden)\n" in hidden.stdout
    assert shown.exit_code == hidden.exit_code == 0
    # --fail-on still sees the hidden finding
    assert check("lenet5", "--hide-info", "--fail-on", "info").exit_code == 1


def test_hide_info_leaves_json_whole() -> None:
    doc = json.loads(check("lenet5", "--hide-info", "--format", "json").stdout)
    assert [f["code"] for f in doc["results"][0]["findings"]] == ["CC403"]


def test_quiet_prints_findings_and_one_line_per_spec(specs: Path) -> None:
    out = check(str(specs), "-q").stdout
    assert "\nlayer " not in out and LEGEND not in out and "memory at" not in out
    lines = [line for line in out.splitlines() if line and not line.startswith((" ", str(specs)))]
    assert lines == [
        "LeNet-5: 61,706 parameters · 416.520 kMACs · 0.03 MB activations per image · 1 info",
        # the rows before the error keep their findings: conv1's CC504
        "stops: 1 error, 1 warning · analysis stopped at the first error",
        "3 specs, 2 failed · 2 errors, 1 warning, 1 info",
    ]
    assert f"{specs}/c-broken.yaml: 1 error" in out
    one = check("lenet5", "-q").stdout.splitlines()
    assert one[-1].startswith("LeNet-5: 61,706 parameters") and "specs," not in one[-1]


def test_a_directory_prints_the_legend_once_and_ends_with_a_summary(specs: Path) -> None:
    result = check(str(specs))
    assert result.exit_code == 1
    assert result.stdout.count(LEGEND) == 1
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert last == "3 specs, 2 failed · 2 errors, 1 warning, 1 info"
    # a single spec keeps its legend and has no run summary
    one = check("lenet5").stdout
    assert one.count(LEGEND) == 1 and "specs," not in one


def test_failed_counts_at_fail_on(specs: Path) -> None:
    last = check(str(specs), "--fail-on", "info").stdout.rstrip("\n").splitlines()[-1]
    assert last == "3 specs, 3 failed · 2 errors, 1 warning, 1 info"


def test_a_failed_spec_prints_no_counts(specs: Path) -> None:
    out = check(str(specs / "b-stops.yaml")).stdout
    assert "parameters" not in out and "MACs ·" not in out
    assert "stops: 1 error, 1 warning · analysis stopped at the first error" in out


def test_the_markdown_table_has_no_counts_for_a_failed_spec(specs: Path) -> None:
    rows = [line for line in check(str(specs), "--format", "markdown").stdout.splitlines()
            if line.startswith("| `")]  # fmt: skip
    stops = next(row for row in rows if "b-stops" in row)
    assert stops.split(" | ")[1:5] == ["—", "—", "—", "—"]
    lenet = next(row for row in rows if "a-lenet5" in row)
    assert "| 61,706 | 416,520 |" in lenet  # LeNet-5's published 61,706 parameters


def test_large_numbers_have_thousands_separators() -> None:
    # VGG16 at 4096×4096: every CONV output is (4096/224)² = 16384/49 times larger than at
    # 224 (five 2× pools: 128 against 7), the FCs read 128×128×512
    convs = 15_470_264_320 - (25_088 * 4096 + 4096 * 4096 + 4096 * 1000)  # published total
    fcs = 128 * 128 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    macs = convs * 16_384 // 49 + fcs
    line = next(line for line in check("vgg16", "--input", "4096x4096x3").stdout.splitlines()
                if line.startswith("VGG-16: "))  # fmt: skip
    assert f"· {macs / 1e9:,.3f} GMACs ·" in line and macs > 5e12
    assert "5,165.793 GMACs" in line and "19,424.04 MB activations" in line
