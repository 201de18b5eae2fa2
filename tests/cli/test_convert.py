"""The notes' FC→CONV conversion: the same parameters, and a score map on larger images."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import convcalc
from convcalc.analysis.convert import fc_to_conv
from convcalc.frontend import bundled
from convcalc.report.expanded import converted_yaml

from ..support import run, unwrapped

WITH_FC = [n for n in bundled.names()
           if any(r.type == "FC" for r in convcalc.analyze(convcalc.load(n)).rows)]  # fmt: skip


def converted_text(name: str, shape: tuple[int, int, int] | None = None) -> str:
    original = convcalc.analyze(convcalc.load(name))
    return converted_yaml(original, fc_to_conv(original, input=shape))


def converted(name: str, shape: tuple[int, int, int] | None = None) -> convcalc.Analysis:
    """The converted spec's text, loaded and analysed again: what a user checks."""
    return convcalc.analyze(convcalc.load_text(converted_text(name, shape), "<c>"))


@pytest.mark.parametrize("name", WITH_FC)
def test_round_trip_keeps_parameters_and_output(name: str) -> None:
    original = convcalc.analyze(convcalc.load(name))
    after = converted(name)
    assert after.ok, [f.render() for f in after.findings if f.severity.name == "ERROR"]
    assert after.totals.params == original.totals.params
    assert after.totals.macs == original.totals.macs
    assert after.output == original.output
    assert not any(r.type == "FC" for r in after.rows)


def test_vgg16_first_fc_becomes_a_7x7_conv() -> None:
    after = converted("vgg16")
    convs = {r.name: r for r in after.rows}
    assert convs["fc1"].type == "CONV" and convs["fc1"].args["F"] == (7, 7)
    assert convs["fc2"].args["F"] == (1, 1) and convs["fc3"].args["F"] == (1, 1)
    assert convs["fc1"].output == (1, 1, 4096)


def test_vgg16_on_384_gives_a_6x6_score_map() -> None:
    # "forwarding an image of size 384x384 through the converted architecture would give the
    # equivalent volume in size [12x12x512] ... the final volume of size [6x6x1000]"
    after = converted("vgg16", (384, 384, 3))
    pools = [r.output for r in after.rows if r.type == "POOL"]
    assert pools[-1] == (12, 12, 512)
    assert after.output == (6, 6, 1000)
    assert after.totals.params == 138_357_544
    assert [f for f in after.findings if f.severity >= convcalc.Severity.WARNING] == []


def test_convert_command_reports_the_crops(tmp_path: object) -> None:
    result = run("convert", "--fc-to-conv", "vgg16", "--input", "384x384x3")
    assert result.exit_code == 0
    assert "input: 384x384x3" in result.stdout and "CONV(4096, F=7, S=1, P=0)@fc1" in result.stdout
    stderr = unwrapped(result.stderr).strip()
    assert stderr.endswith(
        "384×384×3 → 6×6×1000: one pass gives a 6×6 array of scores, replacing 36 evaluations "
        "of the original on 224×224 crops at stride 32"
    )


def test_flatten_before_fc_goes() -> None:
    text = "name: t\ninput: 6x6x4\narch: INPUT -> CONV(8, F=3, P=1) -> FLATTEN -> FC(10)\n"
    original = convcalc.analyze(convcalc.load_text(text))
    after = convcalc.analyze(convcalc.load_text(converted_yaml(original, fc_to_conv(original))))
    assert [r.type for r in after.rows] == ["INPUT", "CONV", "CONV"]
    assert after.rows[-1].args["F"] == (6, 6) and after.totals.params == original.totals.params


def test_convert_needs_the_flag() -> None:
    assert run("convert", "vgg16").exit_code == 2


def test_an_input_the_network_cannot_take_is_its_findings_and_exit_1() -> None:
    result = run("convert", "--fc-to-conv", "vgg16", "--input", "1x1x1")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "vgg16 (bundled):12:40: CC203 error: pool1: the width would be" in result.stderr
    assert "convert: vgg16 does not take an input of 1×1×1" in result.stderr
    assert "internal error" not in result.stderr


def test_a_volume_above_the_size_limit_before_an_fc_is_a_finding_and_exit_1(
    tmp_path: Path,
) -> None:
    # the FC would become CONV(2, F=2^25×2^25), a filter above the size limit: the network is
    # refused where the volume passes 2^24 (CC126), before anything is converted
    path = tmp_path / "wide.yaml"
    path.write_text("name: w\ninput: 8388608x8388608x1\narch: INPUT -> UP(4) -> FC(2)\n")
    result = run("convert", "--fc-to-conv", str(path))
    assert result.exit_code == 1, result.output
    assert "CC126 error: up1: the output width would be 33,554,432" in unwrapped(result.stderr)
    assert result.stdout == "" and "internal error" not in result.stderr


def test_converted_text_keeps_the_blocks_and_writes_out_only_what_differs() -> None:
    """VGG-16's stage(c, n) calls stay; its [FC(4096) -> RELU]*2 converts to F=7 then F=1,
    so that repetition alone is written out."""
    text = converted_text("vgg16")
    assert "-> stage(64, 2) -> stage(128, 2)" in text and '"stage(c, n)": |2' in text
    # S=1, P=0 written: the spec's CONV defaults (P=1) must not reach the converted FCs
    # (the arch's lines are cut before arrows at 80 columns: compare it on one line)
    assert (
        "-> [CONV(4096, F=7, S=1, P=0)@fc1 -> RELU] -> [CONV(4096, F=1, S=1, P=0)@fc2 -> RELU]"
        " -> CONV(1000, F=1, S=1, P=0)@fc3" in " ".join(text.split())
    )
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_repetition_that_converts_alike_stays_a_repetition() -> None:
    text = "name: t\ninput: 4x4x8\narch: INPUT -> FLATTEN -> FC(16) -> [FC(16) -> RELU]*3\n"
    original = convcalc.analyze(convcalc.load_text(text))
    written = converted_yaml(original, fc_to_conv(original))
    assert "INPUT -> CONV(16, F=4)@fc1 -> [CONV(16, F=1) -> RELU]*3" in written
    after = convcalc.analyze(convcalc.load_text(written))
    assert after.totals.params == original.totals.params and after.output == original.output


def test_converted_network_raises_no_finding_about_its_own_convs() -> None:
    for shape in (None, (384, 384, 3)):
        after = converted("vgg16", shape)
        assert [f.code for f in after.findings if f.code in ("CC502", "CC503", "CC504")] == []


def test_on_another_input_the_description_says_so() -> None:
    # the description is folded over lines at 80 columns: read it back as YAML
    line = yaml.safe_load(converted_text("vgg16", (384, 384, 3)))["description"]
    assert "sliding over 384×384×3" in line and "224×224×3" in line
    assert "3 FC layers on 224×224×3" not in line  # the original's words no longer apply
    same = yaml.safe_load(converted_text("vgg16"))["description"]
    assert "3 FC layers on 224×224×3" in same  # the same input: kept


def test_fc_to_conv_returns_the_converted_analysis() -> None:
    original = convcalc.analyze(convcalc.load("vgg16"))
    after = fc_to_conv(original, input=(384, 384, 3))
    assert after.output == (6, 6, 1000) and after.totals.params == original.totals.params
    assert [r.name for r in after.rows if r.type == "CONV"][-3:] == ["fc1", "fc2", "fc3"]
