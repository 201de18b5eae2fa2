"""`convcalc show NAME`: a bundled spec's source, to start a design from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc.frontend import bundled

from ..support import ROOT, run

VGG16_PARAMS = 138_357_544  # Simonyan & Zisserman 2014, configuration D (torchvision: the same)


def test_show_prints_the_source_with_a_schema_line_that_points_next_to_the_copy() -> None:
    result = run("show", "vgg16")
    assert result.exit_code == 0
    source = (ROOT / "specs" / "vgg16.yaml").read_text(encoding="utf-8").splitlines(True)
    printed = result.output.splitlines(True)
    assert printed[0] == "# yaml-language-server: $schema=convcalc.schema.json\n"
    assert printed[1:] == source[1:]  # comments and layout as they ship


def test_a_copy_checks_as_the_bundled_spec_under_its_own_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("show", "vgg16", "-o", "my-net.yaml").exit_code == 0
    result = run("check", "my-net.yaml", "--format", "json")
    assert result.exit_code == 0
    (r,) = json.loads(result.output)["results"]
    assert r["file"] == "my-net.yaml"
    assert r["totals"]["params"] == VGG16_PARAMS


def test_output_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "net.yaml"
    target.write_text("old\n", encoding="utf-8")
    assert run("show", "lenet5", "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == run("show", "lenet5").output


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("VGG-16", "did you mean `vgg16`?"),
        ("resnet-18", "did you mean `resnet18`?"),
        ("../README", "see `convcalc list`"),
        ("", "see `convcalc list`"),
    ],
)
def test_an_unknown_name_suggests_and_exits_2(name: str, hint: str) -> None:
    result = run("show", name)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no bundled spec is named" in result.stderr and hint in result.stderr


def test_no_name_lists_the_names() -> None:
    result = run("show")
    assert result.exit_code == 2 and result.stdout == ""
    assert "give the NAME of a bundled spec" in result.stderr
    assert "the names: " + ", ".join(bundled.names()) in result.stderr


def test_a_name_with_its_extension_is_the_same_spec() -> None:
    assert run("show", "vgg16.yaml").output == run("show", "vgg16").output
