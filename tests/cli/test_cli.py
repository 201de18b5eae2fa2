"""The command line (README, Commands): options, formats and exit codes, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import convcalc.cli
import convcalc.cli.common
from convcalc.cli import main

from ..support import ROOT, run

WARN = "name: w\ninput: 10x10x1\narch: INPUT -> CONV(4, F=3, S=2) -> FC(2)\n"  # CC201 warning
INFO = "name: i\ninput: 10x10x1\narch: INPUT -> CONV(4, F=3, S=2, P=2) -> FC(2)\n"  # CC202
CLEAN = "name: c\ninput: 8x8x1\narch: INPUT -> CONV(4, F=3, P=1) -> FC(2)\n"
BROKEN = "name: b\ninput: 8x8x1\narch: INPUT -> CONV(4, F=9) -> FC(2)\n"  # CC203 error


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def exit_code(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    assert isinstance(code, int)
    return code


@pytest.mark.parametrize(
    ("spec", "fail_on", "code"),
    [
        (CLEAN, "error", 0), (CLEAN, "info", 0),
        (INFO, "error", 0), (INFO, "warning", 0), (INFO, "info", 1), (INFO, "never", 0),
        (WARN, "error", 0), (WARN, "warning", 1), (WARN, "info", 1), (WARN, "never", 0),
        (BROKEN, "error", 1), (BROKEN, "never", 0),
    ],
)  # fmt: skip
def test_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, fail_on: str,
                 code: int) -> None:  # fmt: skip
    path = write(tmp_path, "s.yaml", spec)
    assert exit_code("check", path, "--fail-on", fail_on) == code
    capsys.readouterr()


def test_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", write(tmp_path, "w.yaml", WARN), "--strict") == 1
    assert exit_code("check", write(tmp_path, "i.yaml", INFO), "--strict") == 0
    capsys.readouterr()


def test_rounding_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "i.yaml", INFO)
    assert exit_code("check", path, "--rounding", "strict") == 1
    assert "CC201 error" in capsys.readouterr().out


def test_several_specs_in_one_document(tmp_path: Path) -> None:
    result = run("check", write(tmp_path, "a.yaml", CLEAN), write(tmp_path, "b.yaml", BROKEN),
                 "vgg16", "--format", "json")  # fmt: skip
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [r["name"] for r in doc["results"]] == ["c", "b", "VGG-16"]
    assert [r["ok"] for r in doc["results"]] == [True, False, True]
    broken = doc["results"][1]
    assert broken["output"] is None
    assert broken["findings"][0]["code"] == "CC203"


def test_unloadable_spec_in_json(tmp_path: Path) -> None:
    result = run("check", write(tmp_path, "bad.yaml", "name: x\n"), "--format", "json")
    assert result.exit_code == 1
    (r,) = json.loads(result.output)["results"]
    assert r["ok"] is False and r["layers"] == [] and r["name"] is None
    assert [f["code"] for f in r["findings"]] == ["CC105", "CC105"]


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "no/such/spec.yaml") == 2
    err = capsys.readouterr().err
    assert "no such file `no/such/spec.yaml`" in err and "Traceback" not in err


def test_unknown_bundled_name_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "resnt18") == 2
    assert "did you mean `resnet18`?" in capsys.readouterr().err


def test_empty_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", str(tmp_path)) == 2
    assert "no *.yaml or *.yml file in the directory" in capsys.readouterr().err


def test_directories_are_checked_recursively(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", "broken.yml", BROKEN)
    write(tmp_path, "clean.yaml", CLEAN)
    write(tmp_path, "notes.txt", "not a spec")
    result = run("check", str(tmp_path), "vgg16", "--format", "json")
    names = [r["file"].rsplit("/", 1)[-1] for r in json.loads(result.output)["results"]]
    assert names == ["broken.yml", "clean.yaml", "vgg16 (bundled)"]  # keeps going past the broken
    assert result.exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "-e", "INPUT -> FC(2)"],
        ["check", "vgg16", "--input", "224x224"],
        ["check", "vgg16", "--set", "N"],
        ["check", "vgg16", "--set", "N=two"],
        ["check", "vgg16", "--format", "yaml"],
        ["check", "vgg16", "--fail-on", "sometimes"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(*args) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "Error" in err


def test_inline_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    code = exit_code("check", "-e", "INPUT -> [CONV(8, P=1) -> RELU -> POOL]*2 -> FC(10)",
                     "--input", "32x32x3", "--format", "json")  # fmt: skip
    assert code == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert r["file"] == "<pattern>" and r["output"] == [1, 1, 10]
    assert r["totals"]["params"] == (3 * 9 * 8 + 8) + (8 * 9 * 8 + 8) + (8 * 8 * 8 * 10 + 10)


def test_inline_pattern_error_points_into_the_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "-e", "INPUT -> CONV(8) -> RELUU", "--input", "8x8x1") == 1
    out = capsys.readouterr().out
    assert "<pattern>:1:21: CC108 error: unknown layer or block `RELUU`" in out
    assert "   1 | INPUT -> CONV(8) -> RELUU\n     |                     ^~~~~" in out


def test_input_and_set_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "alexnet-224", "--input", "227x227x3", "--strict") == 0
    capsys.readouterr()
    assert exit_code("check", "cs231n-pattern", "--set", "M=5", "--format", "json") == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert sum(1 for layer in r["layers"] if layer["type"] == "POOL") == 5


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("check", "alexnet-224") == 0
    out = capsys.readouterr().out
    assert out.startswith("AlexNet (224)  alexnet-224 (bundled)\n")
    assert "alexnet-224 (bundled):12:6: CC201 warning: conv1: stride 4 does not fit" in out
    assert "227×227×3 (+3)" in out
    assert "MACs: multiply-accumulates" in out and "MB = 1024² bytes" in out


def test_internal_error_exits_3_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(convcalc.cli.common, "analyze", explode)
    assert exit_code("check", "vgg16") == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "Traceback" not in err
    assert exit_code("check", "vgg16", "--debug") == 3
    assert "Traceback" in capsys.readouterr().err


def test_expand_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("expand", "resnet18") == 0
    expanded = write(tmp_path, "r.yaml", capsys.readouterr().out)
    assert exit_code("check", expanded, "--format", "json") == 0
    again = json.loads(capsys.readouterr().out)["results"][0]
    assert exit_code("check", "resnet18", "--format", "json") == 0
    original = json.loads(capsys.readouterr().out)["results"][0]
    strip = ("line", "column")
    assert [{k: v for k, v in r.items() if k not in strip} for r in again["layers"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in original["layers"]
    ]
    assert again["totals"] == original["totals"]


#: squeeze-and-excitation (MUL), a ShuffleNetV2 unit (SLICE, SHUFFLE), adaptive pools, a ceil
#: pool on an input smaller than its window and a SKIP written first
NEW_PARTS = """\
name: new parts
input: 30x26x3
blocks:
  se(c, r): "MUL{ ID | GAP -> CONV(c // r, F=1) -> RELU -> CONV(c, F=1) -> SIGMOID }"
  unit(c): "CAT{ SLICE(0, c) | SLICE(c) -> CONV(c, F=1) -> BN -> RELU } -> SHUFFLE(2)"
arch: |
  INPUT -> CONV(16, F=3, S=2, P=1) -> BN -> RELU -> se(16, 4) -> unit(8)
  -> ADD{ SKIP | CONV(24, F=3, S=2, P=1) -> BN } -> RELU -> APOOL((3, 2), type=max)
  -> SLICE(4, 20) -> POOL(F=4, S=4, ceil=true) -> APOOL(3) -> FLATTEN -> FC(10)
"""


def test_every_new_part_checks_expands_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "new.yaml", NEW_PARTS)
    assert exit_code("check", path, "--format", "json") == 0
    original = json.loads(capsys.readouterr().out)["results"][0]
    types = {layer["type"] for layer in original["layers"]}
    assert {"MUL", "APOOL", "SLICE", "SHUFFLE"} <= types and original["output"] == [1, 1, 10]
    pools = [layer for layer in original["layers"] if layer["type"] == "POOL"]
    assert pools[0]["inputs"] == [[3, 2, 16]] and pools[0]["output"] == [1, 1, 16]
    assert exit_code("memory", path) == 0
    assert "pool switches" in capsys.readouterr().out
    assert exit_code("expand", path) == 0
    expanded = write(tmp_path, "expanded.yaml", capsys.readouterr().out)
    assert "SLICE(0, 8)@slice1" in Path(expanded).read_text(encoding="utf-8")
    assert exit_code("check", expanded, "--format", "json") == 0
    again = json.loads(capsys.readouterr().out)["results"][0]
    strip = ("line", "column")
    assert [{k: v for k, v in r.items() if k not in strip} for r in again["layers"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in original["layers"]
    ]
    assert again["totals"] == original["totals"]
    assert exit_code("run", path, "--batch", "2") == 0
    assert "every shape matches" in capsys.readouterr().out


def test_expand_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("expand", "cs231n-pattern", "--set", "N=1", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    layers = doc["layers"]
    assert [entry["type"] for entry in layers[:4]] == ["INPUT", "CONV", "RELU", "POOL"]
    assert layers[1]["args"]["K"] == 32 and layers[1]["args"]["F"] == [3, 3]
    assert layers[2]["inputs"] == ["conv1"]


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("list", "--format", "json") == 0
    specs = {s["name"]: s for s in json.loads(capsys.readouterr().out)["specs"]}
    assert specs["vgg16"]["params"] == 138_357_544
    assert specs["resnet18"]["macs"] == 1_814_073_344
    assert exit_code("list") == 0
    assert "vgg16" in capsys.readouterr().out


def test_the_convcalc_script_and_python_m_convcalc_print_the_version() -> None:
    script = shutil.which("convcalc", path=str(Path(sys.executable).parent))
    assert script is not None, "the convcalc console script is not installed next to python"
    for cmd in ([script, "--version"], [sys.executable, "-m", "convcalc", "--version"]):
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"convcalc, version {convcalc.__version__}"


def test_check_does_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from convcalc.cli import main\n"
        "try:\n    main(['check', 'vgg16', '--format', 'json'])\n"
        "except SystemExit as exc:\n    print('exit', exc.code)\n"
        "print('numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)  # fmt: skip
    assert result.stderr == ""
    assert result.stdout.splitlines()[-2:] == ["exit 0", "False"]


def test_every_command_has_help_with_an_example_and_is_in_the_readme(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in convcalc.cli.cli.list_commands(click.Context(convcalc.cli.cli)):
        assert exit_code(name, "--help") == 0
        text = capsys.readouterr().out
        assert "Examples:" in text and f"convcalc {name}" in text
        assert f"convcalc {name}" in readme


def test_every_command_is_where_the_lazy_group_looks_for_it() -> None:
    """A command missing from group.MODULES would be found only after another import."""
    from convcalc.cli import group

    names = group.cli.list_commands(click.Context(group.cli))
    assert set(names) == set(group.MODULES) == set(group.cli.commands)
    for name, module in group.MODULES.items():
        assert group.cli.commands[name].callback.__module__ == f"convcalc.cli.{module}"


def test_readme_lists_every_rule_with_its_severity() -> None:
    from convcalc.rules.catalogue import RULES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| {rule.code} | {rule.severity} | {rule.summary} |" in readme
