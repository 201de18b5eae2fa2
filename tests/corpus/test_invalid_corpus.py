"""The invalid-spec corpus: tests/data/invalid/NAME.yaml with the exact expected message in
NAME.txt. Every case must exit 1, name file:line:col, show a caret, and never a traceback.

A new case is a new file; its .txt is written only by `pytest --regenerate` (a missing one
fails), and reviewed by hand before it is committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import convcalc
from convcalc.cli import main

from ..support import ROOT, matches_golden, unwrapped

INVALID = ROOT / "tests" / "data" / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))


def findings_text(relative: str) -> str:
    """Every finding of a spec, rendered as the library and the CLI render them."""
    try:
        spec = convcalc.load_file(ROOT / relative, display=relative)
    except convcalc.SpecError as exc:
        findings = exc.findings
    else:
        findings = convcalc.analyze(spec).findings
    return "\n\n".join(f.render() for f in findings) + "\n"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_error_corpus(path: Path, capsys: pytest.CaptureFixture[str], regenerate: bool) -> None:
    relative = path.relative_to(ROOT).as_posix()
    text = findings_text(relative)
    assert re.search(r"^\S+\.yaml:\d+:\d+: CC\d{3} error: ", text, re.M), text
    assert re.search(r"^ +\| [ \t]*\^~*$", text, re.M), "no caret under the offending text"
    expected = path.with_suffix(".txt")
    matches_golden(expected, text, regenerate)

    with pytest.raises(SystemExit) as exit_info:
        main(["check", relative])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "Traceback" not in out + err
    shown = unwrapped(out)  # the report wraps long lines at its width
    for line in text.splitlines():
        if re.match(r"^\S+:\d+:\d+: CC\d{3} ", line):
            assert line in shown
