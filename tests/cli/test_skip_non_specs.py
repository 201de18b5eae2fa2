"""`check --skip-non-specs` (the pre-commit hook's): YAML files without a top-level `arch:` key
are passed over silently, unless their name says they are specs (*.convcalc.yaml)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.cli.sources import is_other_yaml

from ..support import run

BROKEN = "name: n\ninput: 8x8x3\narch: INPUT -> CONV(16, F=9) -> FC(10)\n"
OPENAPI = "openapi: 3.0.0\ninfo:\n  title: API\n  arch: not-ours\npaths: {}\n"


@pytest.mark.parametrize(
    ("text", "other"),
    [
        (BROKEN, False),
        ('"arch": INPUT -> FC(2)\n', False),
        ("\ufeffarch : |\n  INPUT -> FC(2)\n", False),  # a BOM, a space before the colon
        (OPENAPI, True),  # `arch` nested, not at the top level
        ("# arch: INPUT -> FC(2)\nname: x\n", True),
        ("architecture: resnet\n", True),
        ("", True),
    ],
)
def test_a_top_level_arch_key_makes_a_spec(tmp_path: Path, text: str, other: bool) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    assert is_other_yaml(str(path)) is other
    named = tmp_path / "x.convcalc.yaml"
    named.write_text(text, encoding="utf-8")
    assert is_other_yaml(str(named)) is False


def test_what_cannot_be_read_is_checked_not_skipped(tmp_path: Path) -> None:
    assert is_other_yaml(str(tmp_path / "missing.yaml")) is False
    assert is_other_yaml(str(tmp_path)) is False
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert is_other_yaml(str(fifo)) is False  # not opened for a blocking read


def test_skipped_files_leave_no_trace(tmp_path: Path) -> None:
    (tmp_path / "specs" / "api").mkdir(parents=True)
    (tmp_path / "specs" / "api" / "openapi.yaml").write_text(OPENAPI, encoding="utf-8")
    (tmp_path / "specs" / "net.yaml").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "m.convcalc.yaml").write_text("name: m\ninput: 8x8x3\n", encoding="utf-8")
    openapi = str(tmp_path / "specs" / "api" / "openapi.yaml")
    alone = run("check", "--skip-non-specs", openapi)
    assert alone.exit_code == 0 and alone.output == ""
    without = run("check", openapi)  # the flag is what skips it
    assert without.exit_code == 1 and "CC105" in without.output
    result = run("check", "--skip-non-specs", str(tmp_path), "--format", "json")
    files = [r["file"] for r in json.loads(result.stdout)["results"]]
    assert files == [str(tmp_path / "m.convcalc.yaml"), str(tmp_path / "specs" / "net.yaml")]
    assert result.exit_code == 1


def test_bundled_names_and_stdin_are_never_skipped() -> None:
    assert "LeNet-5" in run("check", "--skip-non-specs", "lenet5").output
    piped = CliRunner().invoke(cli, ["check", "--skip-non-specs", "-"], input=OPENAPI)
    assert piped.exit_code == 1 and "<stdin>:1:1: CC105" in piped.output
