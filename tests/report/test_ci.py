"""CI use: every output format (golden files), lint configuration, exit codes, --output."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from convcalc import Severity, SpecError
from convcalc.report.ci import _escape_data, _escape_property
from convcalc.rules.lint import LintConfig

from ..support import DATA, ROOT, check, matches_golden, run, spec

MIXED = "tests/data/mixed.yaml"  # one error, one warning, one info
GOLDEN = ROOT / "tests" / "golden" / "formats"
FORMATS = {"text": "txt", "json": "json", "markdown": "md", "github": "github",
           "sarif": "sarif", "junit": "xml"}  # fmt: skip


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.mark.parametrize("format_", FORMATS)
def test_golden_format(format_: str, regenerate: bool) -> None:
    result = run("check", MIXED, "--format", format_)
    assert result.exit_code == 1
    path = GOLDEN / f"mixed.{FORMATS[format_]}"
    matches_golden(path, result.output, regenerate)


def test_sarif_is_valid_and_has_one_rule_per_code() -> None:
    doc = json.loads(run("check", MIXED, "vgg16", "--format", "sarif").output)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    (sarif_run,) = doc["runs"]
    ids = [r["id"] for r in sarif_run["tool"]["driver"]["rules"]]
    assert len(ids) == len(set(ids))
    levels = {r["ruleId"]: r["level"] for r in sarif_run["results"]}
    assert levels["CC301"] == "error" and levels["CC201"] == "warning"
    assert levels["CC112"] == "note"
    bundled = 0
    for result in sarif_run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        if result["message"]["text"].startswith("vgg16 (bundled):"):  # no file to point at
            assert "locations" not in result
            bundled += 1
            continue
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == MIXED  # relative paths
    assert bundled > 0


def test_github_annotations_of_a_bundled_spec_name_no_file() -> None:
    """`vgg16 (bundled)` is no file of the repository: the annotation goes on the run, and its
    message says where in the bundled spec."""
    out = run("check", "vgg16", "--input", "220x220x3", "--format", "github").output
    lines = out.splitlines()
    assert lines and all("file=" not in line for line in lines)
    assert all("::vgg16 (bundled):" in line for line in lines)


def test_junit_parses_with_one_suite_per_spec() -> None:
    xml = run("check", MIXED, "vgg16", "--format", "junit", "--fail-on", "warning").output
    root = ET.fromstring(xml.encode("utf-8"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [MIXED, "vgg16 (bundled)"]
    mixed = suites[0]
    # the error stops the walk; the advice on the rows before it (CC501, CC507) is kept
    assert mixed.get("tests") == "6" and mixed.get("failures") == "4"
    failed = [c.find("failure") is not None for c in mixed.findall("testcase")]
    assert failed == [False, True, False, True, True, True]
    clean = check(spec("INPUT -> CONV(8, F=3, P=1) -> FC(10)"))
    assert clean.findings == ()


def test_junit_passing_testcase_when_clean(tmp_path: Path) -> None:
    path = tmp_path / "clean.yaml"
    path.write_text(spec("INPUT -> CONV(8, F=3, P=1) -> FC(10)"), encoding="utf-8")
    root = ET.fromstring(run("check", str(path), "--format", "junit").output.encode("utf-8"))
    (case,) = root.iter("testcase")
    assert case.get("name") == "t: no findings" and len(case) == 0


def test_github_escaping() -> None:
    assert _escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert _escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    lines = run("check", MIXED, "--format", "github").output.splitlines()
    kinds = ["::error", *["::warning"] * 3, *["::notice"] * 2]
    assert [line.split(" ", 1)[0] for line in lines] == kinds
    assert lines[0].startswith(
        "::error file=tests/data/mixed.yaml,line=6,col=26,endColumn=39,title=CC301 (error)::"
    )
    assert "%0Ahelp: " in lines[0]


def test_github_appends_a_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run("check", MIXED, "--format", "github")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## convcalc\n")
    assert "| `tests/data/mixed.yaml` (`mixed: a, b, 100%`) |" in text


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 1), (["--fail-on", "error"], 1), (["--fail-on", "warning"], 1),
        (["--fail-on", "info"], 1), (["--fail-on", "never"], 0), (["--exit-zero"], 0),
        (["--strict"], 1), (["--ignore", "CC301"], 1),  # CC301 stopped the analysis: kept
        (["--ignore", "CC2,CC1"], 1), (["--select", "CC2"], 1),
    ],
)  # fmt: skip
def test_exit_codes(args: list[str], code: int) -> None:
    assert run("check", MIXED, *args).exit_code == code


WARNING_ONLY = spec("INPUT -> CONV(8, F=3, S=2) -> POOL?", "10x10x3")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 0), (["--strict"], 1), (["--fail-on", "warning"], 1), (["--fail-on", "info"], 1),
        (["--strict", "--exit-zero"], 0), (["--strict", "--ignore", "CC201"], 0),
        (["--fail-on", "info", "--ignore", "CC201,CC112,CC501"], 0),
        (["--fail-on", "info", "--ignore", "CC2", "--ignore", "CC1,CC5"], 0),
        (["--severity", "CC201=error"], 1), (["--severity", "CC2=info", "--strict"], 0),
        (["--select", "CC112", "--fail-on", "info"], 1), (["--select", "CC5", "--strict"], 0),
    ],
)  # fmt: skip
def test_lint_options(tmp_path: Path, args: list[str], code: int) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(WARNING_ONLY, encoding="utf-8")
    assert run("check", str(path), *args).exit_code == code


def test_lint_in_the_spec() -> None:
    text = spec("INPUT -> CONV(8, F=5) -> CONV(8, F=3, S=2) -> POOL?", "12x12x3",
                "lint: {ignore: [CC504], severity: {CC112: warning, CC2: error}}\n")  # fmt: skip
    a = check(text)
    assert [(f.code, str(f.severity)) for f in a.findings] == [
        ("CC201", "error"), ("CC201", "error"), ("CC112", "warning")]  # fmt: skip
    # the command line adds to the spec's ignore list and overrides its severities
    b = check(text, lint=LintConfig(None, frozenset({"CC112"}), {"CC201": Severity.INFO}))
    assert [(f.code, str(f.severity)) for f in b.findings] == [("CC201", "info")] * 2


def test_lint_select_in_the_spec() -> None:
    text = spec("INPUT -> CONV(8, F=5) -> CONV(8, F=3, S=2) -> POOL?", "12x12x3",
                "lint: {select: [CC5]}\n")  # fmt: skip
    assert [f.code for f in check(text).findings] == ["CC504"]


def test_lint_refuses_unknown_codes() -> None:
    result = run("check", "vgg16", "--ignore", "CC999")
    assert result.exit_code == 2 and "no rule is CC999" in result.output
    assert run("check", "vgg16", "--severity", "CC201=fatal").exit_code == 2
    a_text = spec("INPUT -> FC(2)", extra="lint: {ignore: [CC59]}\n")
    with pytest.raises(SpecError, match=r"`lint\.ignore`: no rule is `CC59`"):
        check(a_text)


def test_syntax_errors_cannot_be_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(spec("INPUT -> CONV(8 -> FC(2)"), encoding="utf-8")
    assert run("check", str(path), "--ignore", "CC1").exit_code == 1


def test_output_file_for_every_format(tmp_path: Path) -> None:
    for format_ in FORMATS:
        target = tmp_path / f"report.{format_}"
        result = run("check", MIXED, "--format", format_, "--output", str(target))
        assert result.exit_code == 1 and result.output == ""
        assert target.read_text(encoding="utf-8") == run("check", MIXED, "--format",
                                                          format_).output  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"report.{f}" for f in FORMATS)  # no temporary files left  # fmt: skip


def test_output_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run("check", "vgg16", "--output", str(tmp_path / "no" / "such" / "r.txt"))
    assert result.exit_code == 2 and "cannot write" in result.output


def test_markdown_training_memory_of_vgg16_by_hand() -> None:
    # batch 1, float32, momentum: activations and their gradients 2 · 4 · 15,237,608 B; the
    # parameters, their gradients and the velocity 3 · 4 · 138,357,544 B; max-pool switches
    # 8 B for each of 1,530,368 pooled values; one workspace, conv4's Winograd buffers (its
    # input padded to 114×114×128, four chunks of tiles, 64-byte aligned: see test_memory.py)
    workspace = 114 * 114 * 128 * 4 + 3 * 6_709_248 + 2_981_888 + 5 * 64
    total = 2 * 4 * 15_237_608 + 3 * 4 * 138_357_544 + 8 * 1_530_368 + workspace
    assert f"{total / 1024**2:,.1f}" == "1,739.7"  # MB = 1024² bytes, one decimal
    result = run("check", "vgg16", "--format", "markdown")
    assert "| 138,357,544 | 15,470,264,320 | 1,739.7 MB |" in result.output
