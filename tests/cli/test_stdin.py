"""`-` reads a spec from standard input, for every command that takes a SPEC: bounded like a
file, findings at `<stdin>:line:col`, and a clear refusal of an empty input, a terminal, a
closed input and a second `-`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from convcalc import limits
from convcalc.cli import cli

from ..support import DATA, ROOT, run

BROKEN = "name: n\ninput: 8x8x3\narch: INPUT -> CONV(16, F=9) -> FC(10)\n"
VGG16_PARAMS = 138_357_544  # Simonyan & Zisserman 2014, configuration D


def piped(text: str | bytes, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), input=text, catch_exceptions=False)


def process(*args: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], stdin=stdin, capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)  # fmt: skip


def test_a_converted_spec_piped_into_check() -> None:
    converted = run("convert", "--fc-to-conv", "vgg16")
    assert converted.exit_code == 0
    result = piped(converted.stdout, "check", "-", "--format", "json")
    assert result.exit_code == 0, result.output
    (r,) = json.loads(result.stdout)["results"]
    assert r["file"] == "<stdin>"
    assert r["totals"]["params"] == VGG16_PARAMS  # the conversion keeps every weight
    assert r["output"] == [1, 1, 1000]


@pytest.mark.parametrize(
    "command",
    [["check", "-"], ["memory", "-"], ["expand", "-"], ["convert", "--fc-to-conv", "-"],
     ["run", "-"]],
)  # fmt: skip
def test_every_spec_command_reads_stdin(command: list[str]) -> None:
    lenet = run("show", "lenet5").stdout
    assert piped(lenet, *command).exit_code == 0
    result = piped(BROKEN, *command)
    assert result.exit_code == 1
    assert "<stdin>:3:16: CC203 error: conv1" in result.output
    assert "   3 | arch: INPUT -> CONV(16, F=9) -> FC(10)" in result.output


def test_github_and_sarif_name_no_file_for_stdin() -> None:
    github = piped(BROKEN, "check", "-", "--format", "github")
    assert github.stdout.startswith("::error title=CC203 (error)::<stdin>:3:16: CC203 conv1")
    sarif = json.loads(piped(BROKEN, "check", "-", "--format", "sarif").stdout)
    (result,) = sarif["runs"][0]["results"]
    assert "locations" not in result
    assert result["message"]["text"].startswith("<stdin>:3:16: conv1: the width would be")


def test_stdin_besides_files_and_given_once() -> None:
    result = piped(BROKEN, "check", str(DATA / "mixed.yaml"), "-", "--format", "json")
    files = [r["file"] for r in json.loads(result.stdout)["results"]]
    assert files == [str(DATA / "mixed.yaml"), "<stdin>"]
    twice = piped(BROKEN, "check", "-", "-")
    assert twice.exit_code == 2 and "`-` (standard input) can be given only once" in twice.output


def test_empty_input_exits_2() -> None:
    result = piped("", "check", "-")
    assert result.exit_code == 2
    assert "standard input is empty: pipe a spec into it" in result.stderr
    assert result.stdout == ""


def test_binary_input_is_a_finding_at_its_byte() -> None:
    result = piped(b"name: n\n\x00\xff", "check", "-")
    assert result.exit_code == 1
    assert "<stdin>:2:1: CC100 error: the file contains a NUL byte at line 2, column 1" in (
        result.stdout
    )


def test_endless_input_is_read_up_to_the_limit_only() -> None:
    """/dev/zero never ends: the read stops at the file limit, as for a file (CC120)."""
    with open("/dev/zero", "rb") as zero:
        done = process("check", "-", stdin=zero.fileno())
    assert done.returncode == 1
    assert f"<stdin>:1:1: CC120 error: the file is larger than the limit of " \
        f"{limits.MAX_FILE_BYTES:,} bytes" in done.stdout  # fmt: skip


def test_a_terminal_is_refused_without_waiting() -> None:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        done = process("check", "-", stdin=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert "`-` reads a spec from standard input, which is a terminal here" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_closed_input_is_refused() -> None:
    done = process("check", "-", stdin=subprocess.DEVNULL)  # empty, not closed: exit 2 too
    assert done.returncode == 2 and "standard input is empty" in done.stderr
    code = "import sys; sys.stdin.close(); from convcalc.cli import main; main(['check', '-'])"
    closed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert closed.returncode == 2 and "standard input is closed" in closed.stderr


def test_a_file_named_dash_is_read_as_dot_slash_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text(BROKEN, encoding="utf-8")
    result = run("check", "./-")
    assert result.exit_code == 1 and "./-:3:16: CC203" in result.stdout
