"""The cap on the findings printed per code (report/cap.py): text, markdown and GitHub print the
first 20 of each code of a spec and a line `… and N more like this`; JSON keeps them all."""

from __future__ import annotations

import json
from pathlib import Path

from convcalc.report.cap import PER_CODE

from ..support import run

# 30 CONV layers whose stride does not fit: 30 CC202 findings of one spec.
SPEC = "name: w\ninput: 10x10x1\narch: INPUT -> [CONV(1, F=3, S=2, P=2) -> UP(2)]*30\n"


def write(tmp_path: Path) -> str:
    path = tmp_path / "w.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return str(path)


def test_the_cap_is_twenty() -> None:
    assert PER_CODE == 20


def test_text_prints_twenty_and_the_rest_as_one_line(tmp_path: Path) -> None:
    out = run("check", write(tmp_path)).output
    lines = out.splitlines()
    headers = [line for line in lines if " CC202 " in line]
    assert len(headers) == 20
    assert headers[-1].split(": ", 1)[1].startswith("CC202 info: conv20:")
    assert lines.count("… and 10 more like this") == 1
    assert "conv21:" not in out
    # the line follows the 20th finding, before the summary that still counts all 30
    assert lines.index("… and 10 more like this") > lines.index(headers[-1])


def test_json_keeps_every_finding(tmp_path: Path) -> None:
    doc = json.loads(run("check", write(tmp_path), "--format", "json").output)
    codes = [f["code"] for spec in doc["results"] for f in spec["findings"]]
    assert codes.count("CC202") == 30


def test_markdown_and_github_are_capped(tmp_path: Path) -> None:
    path = write(tmp_path)
    markdown = run("check", path, "--format", "markdown").output
    assert markdown.count("CC202** info") == 20
    assert "- … and 10 more like this (**CC202**)" in markdown.splitlines()
    github = run("check", path, "--format", "github").output.splitlines()
    assert sum("title=CC202 (info)" in line for line in github) == 21
    assert "::notice title=CC202 (info)::… and 10 more like this" in github


def test_sarif_keeps_every_finding(tmp_path: Path) -> None:
    doc = json.loads(run("check", write(tmp_path), "--format", "sarif").output)
    results = doc["runs"][0]["results"]
    assert sum(r["ruleId"] == "CC202" for r in results) == 30
