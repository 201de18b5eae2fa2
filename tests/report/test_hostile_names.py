"""File names and spec names can hold anything: bytes that are not UTF-8, escape sequences,
newlines, `|` and HTML. Every output survives them, and none passes a control character on:
they are shown as escapes (`bad\\xff.yaml`, `\\x1b`), markdown cells stay cells, and a GitHub
annotation never names a file that does not exist."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from convcalc.cli import main

from ..support import DATA, ROOT, run, unwrapped

#: A name that sets the window title, and a cell-breaking, HTML-injecting tail.
HOSTILE_NAME = "x\x1b]0;pwned\x07|<img src=x>\u202e"
VISIBLE_NAME = "x\\x1b]0;pwned\\x07|<img src=x>\\u202e"
SPEC = (
    'name: "x\\e]0;pwned\\a|<img src=x>\\u202e"\n'
    "input: 10x10x1\n"
    "arch: INPUT -> CONV(4, F=3, S=2) -> FC(2)\n"  # CC201: a finding in every format
)
FORMATS = ("text", "json", "markdown", "github", "sarif", "junit")
ESCAPED = ("bad\\xff.yaml", "esc\\x1b[2Jname.yaml")


def unsafe(text: str) -> list[str]:
    """Characters no output may carry raw: control characters but newline, direction
    overrides, line separators, lone surrogates."""
    return sorted({
        c for c in text
        if c != "\n" and (unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")
                          or c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
    })  # fmt: skip


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    top = tmp_path / "specs"
    top.mkdir()
    for name in (b"bad\xff.yaml", b"esc\x1b[2Jname.yaml"):
        with open(os.fsencode(top) + b"/" + name, "w", encoding="utf-8") as handle:
            handle.write(SPEC)
    return top


def test_visible() -> None:
    from convcalc.report.escape import visible

    assert visible("a\x1b[2Jb\x07") == "a\\x1b[2Jb\\x07"
    assert visible("bad\udcff.yaml") == "bad\\xff.yaml"  # a byte that is not UTF-8
    assert visible("\x85\x9b\x7f") == "\\x85\\x9b\\x7f"
    assert visible("a\u202eb\u2028c") == "a\\u202eb\\u2028c"
    assert visible("two\nlines\tand tab", keep="\n\t") == "two\nlines\tand tab"
    assert visible("two\nlines") == "two\\nlines"
    assert visible("VGG-16 ×→ Réseau 网络 🙂") == "VGG-16 ×→ Réseau 网络 🙂"


def test_json_dumps_is_valid_utf8_json_without_raw_controls() -> None:
    from convcalc.report.escape import json_dumps

    doc = {"file": "bad\udcff.yaml", "name": "a\x1b\x9b\u202e\u2028b", "n": 1}
    text = json_dumps(doc)
    assert not unsafe(text)
    text.encode("utf-8")  # no surrogate left
    back = json.loads(text)
    assert back["file"] == "bad\\xff.yaml"  # bytes that are not text: shown escaped
    assert back["name"] == "a\x1b\x9b\u202e\u2028b"  # text: carried exactly, JSON-escaped


def test_markdown_helpers() -> None:
    from convcalc.report.escape import markdown_code, markdown_text

    assert markdown_code("specs/vgg16.yaml") == "`specs/vgg16.yaml`"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`a") == "`` `a ``"
    assert markdown_code("a|b", table=True) == "`a\\|b`"
    assert markdown_text("a|b <img src=x> *c* [d](e) &amp;") == (
        "a\\|b \\<img src=x\\> \\*c\\* \\[d\\](e) \\&amp;")  # fmt: skip


@pytest.mark.parametrize("format_", FORMATS)
def test_every_format_survives_hostile_file_names_to_a_file(
    hostile_dir: Path, tmp_path: Path, format_: str
) -> None:
    out = tmp_path / f"out.{format_}"
    result = run("check", str(hostile_dir), "--format", format_, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")  # valid UTF-8, no surrogate written
    assert not unsafe(text)
    if format_ not in ("json", "sarif"):  # JSON: test_json_carries_names
        assert all(name in text for name in ESCAPED)


@pytest.mark.parametrize("format_", FORMATS)
def test_every_format_survives_hostile_file_names_on_standard_output(
    hostile_dir: Path, format_: str
) -> None:
    """In a process whose standard output refuses surrogates (a UTF-8 locale)."""
    code = "import sys; from convcalc.cli import main; main(sys.argv[1:])"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    args = [sys.executable, "-c", code, "check", str(hostile_dir), "--format", format_]
    done = subprocess.run(args, capture_output=True, cwd=ROOT, env=env, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    assert not unsafe(text)
    assert not unsafe(done.stderr.decode("utf-8"))


def test_text_shows_names_escaped(hostile_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", str(hostile_dir)])
    out = capsys.readouterr().out
    assert not unsafe(out)
    # the name and the path on one line, or on two when they are wider than the console
    title = re.search(rf"{re.escape(VISIBLE_NAME)}( {{2}}|\n){re.escape(str(hostile_dir))}", out)
    assert title is not None and f"{hostile_dir}/bad\\xff.yaml" in out
    assert f"{hostile_dir}/esc\\x1b[2Jname.yaml:3:16: CC201 warning" in unwrapped(out)


def test_json_carries_names(hostile_dir: Path) -> None:
    doc = json.loads(run("check", str(hostile_dir), "--format", "json").output)
    files = [r["file"] for r in doc["results"]]
    assert files == [f"{hostile_dir}/bad\\xff.yaml", f"{hostile_dir}/esc\x1b[2Jname.yaml"]
    assert {r["name"] for r in doc["results"]} == {HOSTILE_NAME}


def test_markdown_keeps_its_table_and_injects_nothing(hostile_dir: Path) -> None:
    text = run("check", str(hostile_dir), "--format", "markdown").output
    assert "<img" not in re.sub(r"(`+).+?\1", "", text)  # only inside code spans, inert
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 4  # the header, its rule and one row per spec
    for row in rows:  # six cells: seven pipes that are not escaped
        assert len(re.findall(r"(?<!\\)\|", row)) == 7, row
    assert f"`{hostile_dir}/bad\\xff.yaml`" in text
    assert "x\\x1b]0;pwned\\x07\\|<img src=x>\\u202e" in text  # inside a code span


def test_github_annotations_never_name_a_wrong_file(tmp_path: Path) -> None:
    top = tmp_path / "specs"
    top.mkdir()
    names = [b"bad\xff.yaml", b"esc\x1b[2Jname.yaml", b"a,b:c%d.yaml", b"new\nline.yaml"]
    for name in names:
        (Path(os.fsdecode(os.fsencode(top) + b"/" + name))).write_text(SPEC, encoding="utf-8")
    lines = run("check", str(top), "--format", "github").output.splitlines()
    assert len(lines) == 4 and not unsafe("\n".join(lines))
    # what the toolkit's escaping can carry names the real file
    assert any(f"file={top}/a%2Cb%3Ac%25d.yaml,line=3,col=16," in line for line in lines)
    assert any(f"file={top}/new%0Aline.yaml,line=3,col=16," in line for line in lines)
    # what it cannot carry: no file property, the path (escaped) in the message
    for shown in ESCAPED:
        (line,) = [line for line in lines if shown in line]
        assert line.startswith("::warning title=CC201 (warning)::")
        assert f"::{top}/{shown}:3:16: CC201 conv1: stride 2" in line


def test_sarif_uris_are_percent_encoded_and_valid(hostile_dir: Path, tmp_path: Path) -> None:
    doc = json.loads(run("check", str(hostile_dir), "--format", "sarif").output)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]]  # fmt: skip
    assert [u.rsplit("/", 1)[1] for u in uris] == ["bad%FF.yaml", "esc%1B%5B2Jname.yaml"]


def test_junit_is_well_formed(hostile_dir: Path) -> None:
    xml = run("check", str(hostile_dir), "--format", "junit").output
    root = ET.fromstring(xml.encode("utf-8"))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == [f"{hostile_dir}/{n}" for n in ESCAPED]


def test_errors_on_standard_error_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "no\x1b[2Jsuch.yaml"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "no\\x1b[2Jsuch.yaml" in err and not unsafe(err)


@pytest.mark.parametrize("command", ["memory", "run", "expand"])
def test_other_commands_escape_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "net\x1b[2J.yaml"
    path.write_text(SPEC.replace("S=2", "S=1") + 'description: "[/dim] [bold]"\n',
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main([command, str(path)])
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert not unsafe(out + err)
    if command != "expand":
        assert VISIBLE_NAME in out


def test_rich_markup_in_a_name_is_shown_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text('name: "[/dim] [bold]x"\ninput: 8x8x1\narch: INPUT -> CONV(4, F=3, P=1) '
                    "-> FC(2)\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["run", str(path)])
    assert info.value.code == 0
    assert "[/dim] [bold]x" in capsys.readouterr().out


def test_expand_output_is_a_spec_again(tmp_path: Path) -> None:
    """A path with a newline cannot inject YAML into the header comment; the name round-trips."""
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/x\nname: evil\xff.yaml"))
    path.write_text(SPEC.replace("S=2", "S=1"), encoding="utf-8")
    expanded = run("expand", str(path))
    assert expanded.exit_code == 0
    again = tmp_path / "again.yaml"
    again.write_text(expanded.output, encoding="utf-8")
    doc = json.loads(run("check", str(again), "--format", "json").output)
    assert doc["results"][0]["name"] == HOSTILE_NAME
